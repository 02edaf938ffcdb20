/**
 * Deletion that holds against writers still running: tombstones and lineages.
 *
 * A graph run may outlive a `deleteThread` or `purgeThread` of its thread (another process,
 * langgraph #7206). Its next `put` writes a record whose parent and channel values were just
 * deleted, which would leave a thread that cannot be read. Instead:
 *
 * - each thread may have a tombstone, one small object outside its prefix holding a random token;
 *   every delete and purge gives it a new token, before it deletes anything and again after;
 * - each record carries a lineage: the token current when its chain's root checkpoint was
 *   written, inherited by every child (a root takes the tombstone's token, a child its parent's);
 * - readers read the tombstone beside the listing (in parallel: no extra round trip) and show
 *   only records whose lineage is the current token.
 *
 * So after a delete returns, every record written before it, or by a run that began before it,
 * is hidden, and a fresh start (`graph.invoke` on the same thread id) is a new chain that shows.
 * No clock is compared: tokens are only ever equal or not.
 */

import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import { maxEnvelopeBytes, open, seal, type ResolvedCompression } from "./codec.js";
import { CheckpointCorruptedError, DecryptionFailedError } from "./errors.js";
import { encodeComponent, type KeyLayout } from "./layout.js";
import type { Logger } from "./logger.js";
import type { S3Store } from "./store.js";

/** A tombstone's plaintext is a few dozen bytes; anything larger is not one. */
const MAX_TOMBSTONE_BYTES = 4096;
/** Threads whose tokens one instance remembers for root writes. */
const KNOWN_THREADS = 10_000;
/**
 * How long a token read by this instance is trusted for a root checkpoint's lineage without
 * reading it again. LangGraph reads a thread right before it writes a root checkpoint, so the
 * token is seconds old; a delete in between hides the new chain (the delete wins).
 */
export const TOKEN_TRUST_MS = 30_000;

/** The current generation of a thread: a token, or `undefined` when it was never deleted. */
export type Lineage = string | undefined;

/**
 * The generation of a thread whose tombstone cannot be read (damaged or planted in the bucket):
 * every lineage shows, so no stored object can make a thread unreadable. Tokens are base64url,
 * so no token equals it. Never stored: a root checkpoint written meanwhile takes no lineage, and
 * the next delete or purge writes a new tombstone over the damaged one.
 */
export const ANY_LINEAGE = "*any*";

export class Tombstones {
  private readonly known = new LRUCache<string, { token: Lineage; at: number }>({ max: KNOWN_THREADS });
  /**
   * The newest read of each thread's tombstone still in flight. A read sent beside a listing may
   * still be going when its caller has its answer (an empty thread needs no generation), and the
   * root checkpoint LangGraph writes next must take what that read finds, not an older token.
   */
  private readonly reading = new Map<string, { started: number; done: Promise<unknown> }>();

  constructor(
    private readonly store: S3Store,
    private readonly layout: KeyLayout,
    private readonly compression: ResolvedCompression,
    private readonly logger?: Logger,
  ) {}

  /** The thread's current token, read from the store. */
  current(thread: string): Promise<Lineage> {
    return this.currentOf(encodeComponent(thread));
  }

  /** {@link current} of a thread component as listed (a long id's digest cannot be decoded). */
  currentOf(threadComponent: string): Promise<Lineage> {
    const started = Date.now();
    const read = this.read(threadComponent, started);
    const newest = this.reading.get(threadComponent);
    if (!newest || newest.started <= started) {
      const done = read.then(
        () => undefined,
        () => {
          // the token is unknown now: a root written next reads it again rather than trust an older one
          const seen = this.known.get(threadComponent);
          if (seen && seen.at <= started) this.known.delete(threadComponent);
        },
      );
      this.reading.set(threadComponent, { started, done });
      void done.then(() => {
        if (this.reading.get(threadComponent)?.done === done) this.reading.delete(threadComponent);
      });
    }
    return read;
  }

  private async read(threadComponent: string, started: number): Promise<Lineage> {
    const thread = threadComponent;
    const key = this.layout.tombstoneOf(threadComponent);
    let token: Lineage;
    try {
      // a tombstone is a few dozen bytes: a longer body is refused unread (see S3Store.get)
      const object = await this.store.get(key, undefined, { maxBytes: maxEnvelopeBytes(MAX_TOMBSTONE_BYTES) });
      if (object) token = await this.parse(object.body, key);
    } catch (e) {
      if (!(e instanceof CheckpointCorruptedError || e instanceof DecryptionFailedError)) throw e;
      // a damaged tombstone must not take the thread (and every listing of it) down with it
      this.logger?.warn(
        { key, code: e.code },
        "a thread's tombstone cannot be read; its checkpoints of every generation show until the next delete",
      );
      token = ANY_LINEAGE;
    }
    // a read that began before the newest one known (its answer may predate a delete since)
    // never replaces it
    const newest = this.known.get(thread);
    if (!newest || newest.at <= started) this.known.set(thread, { token, at: started });
    return token;
  }

  /** The token a new root checkpoint of `thread` takes: the one read moments ago, or read now. */
  async forRoot(thread: string): Promise<Lineage> {
    const component = encodeComponent(thread);
    // a read still in flight is newer than what is known: its answer is the one to take
    await this.reading.get(component)?.done;
    const seen = this.known.get(component);
    return storable(seen && Date.now() - seen.at <= TOKEN_TRUST_MS ? seen.token : await this.current(thread));
  }

  private async parse(body: Buffer, key: string): Promise<Lineage> {
    const { plaintext } = await open(body, { key, maxBytes: MAX_TOMBSTONE_BYTES });
    let parsed: unknown;
    try {
      parsed = JSON.parse(plaintext.toString("utf8"));
    } catch (e) {
      throw new CheckpointCorruptedError(`tombstone ${key} is not JSON`, { key, cause: e });
    }
    const t = (parsed as { token?: unknown } | null)?.token;
    // null: reset to "never deleted" by restoreThread
    if (t !== null && (typeof t !== "string" || t === "" || t === ANY_LINEAGE)) {
      throw new CheckpointCorruptedError(`tombstone ${key} has no token`, { key });
    }
    return t ?? undefined;
  }

  /** Gives the thread a new token: everything written under the old one is hidden from now on. */
  async renew(thread: string): Promise<string> {
    const token = randomBytes(16).toString("base64url");
    await this.write(thread, token);
    return token;
  }

  /** Sets the thread's token back to `token` (restoreThread); `undefined`: as if never deleted. */
  async reset(thread: string, token: Lineage): Promise<void> {
    await this.write(thread, token);
  }

  /** A token no tombstone ever holds: the lineage of a record that must never show. */
  static orphan(): string {
    return `orphan-${randomBytes(16).toString("base64url")}`;
  }

  private async write(thread: string, token: Lineage): Promise<void> {
    const key = this.layout.tombstone(thread);
    const body = Buffer.from(JSON.stringify({ token: token ?? null, at: new Date().toISOString() }), "utf8");
    const sealed = await seal(body, { compression: this.compression, key, maxBytes: MAX_TOMBSTONE_BYTES });
    await this.store.put(key, sealed.body, { sha256: sealed.sha256 });
    this.known.set(encodeComponent(thread), { token, at: Date.now() });
  }
}

/** True when a record of lineage `lineage` belongs to the thread's current generation. */
export function isCurrent(lineage: Lineage, current: Lineage): boolean {
  return current === ANY_LINEAGE || (lineage ?? undefined) === (current ?? undefined);
}

/** A generation as a record may carry it: {@link ANY_LINEAGE} is never written. */
export function storable(lineage: Lineage): Lineage {
  return lineage === ANY_LINEAGE ? undefined : lineage;
}
