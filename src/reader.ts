/**
 * Reading checkpoints back: listings turned into checkpoint groups, records, writes and channel
 * values read in parallel (bounded), immutable objects cached, tuples assembled as LangGraph
 * expects them. Also reads from history (by S3 version id) for the version features.
 */

import {
  JsonPlusSerializer,
  TASKS,
  compareWritesSortKeys,
  maxChannelVersion,
  writesSortKey,
  type Checkpoint,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import pLimit, { type LimitFunction } from "p-limit";
import { ObjectCache, type OpenedObject } from "./cache.js";
import { maxEnvelopeBytes, open, type EnvelopeCipher } from "./codec.js";
import { release } from "./release.js";
import { CheckpointCorruptedError, S3RequestError, isS3CheckpointerError } from "./errors.js";
import { lastLiveVersion, liveVersion, type BucketCapabilities } from "./immutability.js";
import { encodeComponent, type KeyLayout } from "./layout.js";
import {
  channelRef,
  isValueless,
  unpack,
  valueBytes,
  type ChannelRef,
  type RecordHead,
  type WritesHead,
} from "./record.js";
import type { ListedVersion, S3Store } from "./store.js";

/** One checkpoint found in a listing: its record key and the keys of its writes. */
export interface Group {
  /** encoded thread component */
  thread: string;
  /** encoded namespace component */
  ns: string;
  checkpointId: string;
  recordKey?: string;
  writeKeys: string[];
  /** where the first version wins: the version of each key that is its content */
  pins: Map<string, string>;
}

/** A key as a listing shows it, with the version that is its content where that must be pinned. */
export interface LiveObject {
  key: string;
  /** the version to read (listings of versions only) */
  versionId?: string;
  /** that version is the key's current one (listings of versions only) */
  latest?: boolean;
}

export interface LivePage {
  objects: LiveObject[];
  /** no page follows */
  last: boolean;
}

/** Where a record is read: the thread and namespace its keys are built with. */
export interface Place {
  thread: string;
  ns: string;
}

export interface LoadedRecord {
  head: RecordHead;
  sections: Buffer[];
  versionId?: string;
  /** the thread and namespace this record was read under (a copied thread differs from `head`) */
  place: Place;
  /** read from history: parts whose current version is gone are looked up among versions */
  fromHistory: boolean;
}

export interface ReaderConfig {
  store: S3Store;
  layout: KeyLayout;
  serde: () => SerializerProtocol;
  cache: ObjectCache;
  readConcurrency: number;
  /** bound on the plaintext of one object (option `maxObjectBytes`) */
  maxObjectBytes: number;
  cipher: EnvelopeCipher | undefined;
  nextVersion: () => number | string;
  /** what the bucket's probe found, once it has run */
  capabilities: () => BucketCapabilities | undefined;
}

/**
 * Keys asked for in the first page of a latest / by-id read: a record and its writes fit in it
 * in the common case, so the read costs one listing; later pages ask for the most S3 allows.
 */
export const FIRST_PAGE_KEYS = 100;

/** Answers of a store that has no ListObjectVersions: Method Not Allowed, Not Implemented. */
const NO_VERSION_LISTING: readonly number[] = [405, 501];

/**
 * A stored value, deserialized. What the serializer throws (a serde type it does not know, bytes
 * that are not JSON: anyone who may write the bucket can store either, under a valid envelope)
 * is a CheckpointCorruptedError naming the object, as every other stored damage is.
 */
async function deserialize(
  serde: SerializerProtocol,
  type: string,
  data: Uint8Array | string,
  key: string,
): Promise<unknown> {
  try {
    return await serde.loadsTyped(type, data);
  } catch (e) {
    if (isS3CheckpointerError(e)) throw e;
    throw new CheckpointCorruptedError(
      `object ${key} holds a value that does not deserialize as ${JSON.stringify(type)} (${(e as Error)?.message})`,
      { key, cause: e },
    );
  }
}

/** A channel value or a write: {@link deserialize}, and `undefined` for what JSON has no form for. */
function load(serde: SerializerProtocol, type: string, data: Uint8Array | string, key: string): Promise<unknown> {
  if (typeof data === "string") return deserialize(serde, type, data, key);
  return isValueless(type, data) ? Promise.resolve(undefined) : deserialize(serde, type, valueBytes(type, data), key);
}

/**
 * Objects at least this large have their JSON values turned into text as soon as they are opened
 * (see {@link asText}); below it the bytes cost little and go to the serde as they are.
 */
export const TEXT_FIRST_MIN_BYTES = 1 << 20;

/** An object as one read got it. */
export interface ReadObject extends OpenedObject {
  /** Only this read holds the plaintext: it was neither found in the cache nor kept there. */
  exclusive: boolean;
}

const utf8 = new TextDecoder();

/**
 * A `json` value's bytes as the text LangGraph's own serializer would make of them, where the serde
 * is that serializer. Its `loadsTyped` decodes the bytes (`new TextDecoder().decode`, as here) and
 * parses the text, holding bytes, text and value at once: decoded here, the bytes (the object's
 * plaintext) are let go before the text is parsed, and a large read holds the text and the value
 * only (a 100 MB state: see README, Speed). A serde of another kind gets the bytes, as its
 * `loadsTyped` was written for.
 */
function asText(serde: SerializerProtocol, type: string, bytes: Uint8Array): Uint8Array | string {
  return type === "json" && bytes.byteLength > 0 && serde.loadsTyped === JsonPlusSerializer.prototype.loadsTyped
    ? utf8.decode(bytes)
    : bytes;
}

export class TupleReader {
  private readonly store: S3Store;
  private readonly layout: KeyLayout;
  private readonly serde: () => SerializerProtocol;
  private readonly cache: ObjectCache;
  private readonly limit: LimitFunction;
  private readonly nextVersion: () => number | string;
  readonly maxObjectBytes: number;
  /** Longest body worth downloading: an object within maxObjectBytes (see codec.ts). */
  private readonly bodyBound: { maxBytes: number };
  private readonly cipher: EnvelopeCipher | undefined;
  private readonly capabilities: () => BucketCapabilities | undefined;
  /** the store answered ListObjectVersions with "not implemented" (s3rver) */
  private noVersionListing = false;

  constructor(config: ReaderConfig) {
    this.store = config.store;
    this.layout = config.layout;
    this.serde = config.serde;
    this.nextVersion = config.nextVersion;
    this.maxObjectBytes = config.maxObjectBytes;
    this.bodyBound = { maxBytes: maxEnvelopeBytes(config.maxObjectBytes) };
    this.cipher = config.cipher;
    this.cache = config.cache;
    this.capabilities = config.capabilities;
    this.limit = pLimit(config.readConcurrency);
  }

  /**
   * How listings are read. Where the first version of a key wins (immutability.ts), listings are
   * of versions, so each key is read at the version that is its content; elsewhere of current
   * objects. Before this instance has probed the bucket (a reader that never wrote), versions
   * too: that is right on every bucket, and costs the same requests.
   */
  pinsVersions(): boolean {
    const caps = this.capabilities();
    if (caps) return caps.immutability === "version-check";
    return !this.noVersionListing;
  }

  /**
   * The live keys under `prefix` in key order, page by page. Listing versions, a key whose
   * entries may go on in the next page is held back until that page; a key whose current entry
   * is a delete marker is left out; immutable keys (records, regular writes, channel values)
   * are pinned to their first version, replaceable ones to their newest.
   */
  async *liveObjects(
    prefix: string,
    options: { startAfter?: string; pageSize?: number } = {},
  ): AsyncGenerator<LivePage> {
    if (!this.pinsVersions()) {
      for await (const { objects, last } of this.store.list(prefix, options))
        yield { objects: objects.map((o) => ({ key: o.key })), last };
      return;
    }
    let held: ListedVersion[] = [];
    const pages = this.store.versionPages(prefix, { keyMarker: options.startAfter, pageSize: options.pageSize });
    try {
      for (let first = true; ; first = false) {
        let next: IteratorResult<{ versions: ListedVersion[]; last: boolean }>;
        try {
          next = await pages.next();
        } catch (e) {
          // a store without a version listing (s3rver answers 405; others 501): current objects,
          // from now on (a store without versions has no second version to hide)
          if (!first || !this.lacksVersionListing(e)) throw e;
          yield* this.liveObjects(prefix, options);
          return;
        }
        if (next.done) return;
        const { versions, last } = next.value;
        const byKey = new Map<string, ListedVersion[]>();
        for (const v of [...held, ...versions]) {
          const entries = byKey.get(v.key);
          if (entries) entries.push(v);
          else byKey.set(v.key, [v]);
        }
        // keys are ASCII below the prefix (layout.ts), so code-unit order is S3's byte order
        const keys = [...byKey.keys()].sort();
        const open = last ? undefined : keys.pop();
        held = open === undefined ? [] : byKey.get(open)!;
        const objects: LiveObject[] = [];
        for (const key of keys) {
          const entries = byKey.get(key)!;
          const versionId = liveVersion(entries, this.isReplaceable(key) ? "newest" : "first");
          const latest = entries.some((e) => e.versionId === versionId && e.isLatest);
          if (versionId !== undefined) objects.push({ key, versionId, latest });
        }
        yield { objects, last };
        if (last) return;
      }
    } finally {
      await pages.return(undefined);
    }
  }

  /**
   * True (and remembered) when `error` says the store has no ListObjectVersions at all, and this
   * instance lists versions only because it has not probed the bucket yet.
   */
  private lacksVersionListing(error: unknown): boolean {
    if (this.capabilities() || !(error instanceof S3RequestError) || !NO_VERSION_LISTING.includes(error.status ?? 0))
      return false;
    this.noVersionListing = true;
    return true;
  }

  /** Special writes (errors, interrupts) are replaced; every other key of a thread is written once. */
  private isReplaceable(key: string): boolean {
    return this.layout.parse(key)?.kind === "writes" && !key.endsWith("/r");
  }

  /**
   * Listing pages turned into checkpoint groups, newest first. A group never spans two yields:
   * the last group of a page is held back until the next page shows where it ends, and goes
   * out with the final page.
   */
  async *groups(prefix: string, startAfter?: string, pageSize?: number): AsyncGenerator<Group[]> {
    let open: Group | undefined;
    let openId = "";
    for await (const { objects, last } of this.liveObjects(prefix, { startAfter, pageSize })) {
      const out: Group[] = [];
      for (const { key, versionId } of objects) {
        const parsed = this.layout.parse(key);
        if (!parsed || parsed.kind === "blob") continue;
        const id = `${parsed.thread}/${parsed.ns}/${parsed.checkpointId}`;
        if (!open || id !== openId) {
          if (open) out.push(open);
          open = {
            thread: parsed.thread,
            ns: parsed.ns,
            checkpointId: parsed.checkpointId,
            writeKeys: [],
            pins: new Map(),
          };
          openId = id;
        }
        if (versionId !== undefined) open.pins.set(key, versionId);
        if (parsed.kind === "record") open.recordKey = key;
        else open.writeKeys.push(key);
      }
      if (last && open) {
        out.push(open);
        open = undefined;
      }
      if (out.length > 0) yield out;
    }
  }

  /** The group of one checkpoint (`prefix` names it), with all of its write keys. */
  async firstGroup(prefix: string, startAfter?: string, pageSize = FIRST_PAGE_KEYS): Promise<Group | undefined> {
    const pages = this.groups(prefix, startAfter, pageSize);
    try {
      for await (const groups of pages) {
        const found = groups.find((g) => g.recordKey) ?? groups[0];
        if (found) return found;
      }
      return undefined;
    } finally {
      await pages.return(undefined);
    }
  }

  /**
   * Reads and opens an object. Immutable objects (`cacheable`) come from the cache when they
   * can. `fromHistory`: when the current version is gone (a soft-deleted thread), the newest
   * stored version is read instead.
   */
  async readObject(
    key: string,
    options: { versionId?: string; cacheable?: boolean; fromHistory?: boolean; pin?: string } = {},
  ): Promise<ReadObject | undefined> {
    const { versionId, cacheable = true, fromHistory = false, pin } = options;
    if (pin !== undefined) return this.readPinned(key, pin, cacheable);
    const cached = cacheable ? this.cache.get(key, versionId) : undefined;
    if (cached) return { ...cached, exclusive: false };
    let object = await this.limit(() => this.store.get(key, versionId, this.bodyBound));
    if (!object && fromHistory && !versionId) {
      // as the key was last stored: where the first version wins, that one
      const entries = await this.store.entriesOf(key);
      const last = lastLiveVersion(entries, this.isReplaceable(key) ? "newest" : "first");
      if (last) object = await this.limit(() => this.store.get(key, last, this.bodyBound));
    }
    if (!object) return undefined;
    const entry = await this.opened(key, object.body, object.versionId);
    return { ...entry, exclusive: !(cacheable && this.cache.remember(key, entry, versionId)) };
  }

  /**
   * A key at the version a listing pinned. The cache holds it under the key itself, with that
   * version: what the writer of this instance wrote, or read before.
   */
  private async readPinned(key: string, pin: string, cacheable: boolean): Promise<ReadObject | undefined> {
    const cached = cacheable ? this.cache.get(key) : undefined;
    if (cached?.versionId === pin) return { ...cached, exclusive: false };
    // "null" is the version id of objects written while versioning was off: the current one
    const object = await this.limit(() => this.store.get(key, pin === "null" ? undefined : pin, this.bodyBound));
    if (!object) return undefined;
    const entry = await this.opened(key, object.body, pin);
    return { ...entry, exclusive: !(cacheable && this.cache.remember(key, entry)) };
  }

  private async opened(key: string, body: Buffer, versionId: string | undefined): Promise<OpenedObject> {
    // the body was just downloaded for this read and is not used again: decrypted in place
    const opened = await open(body, { key, maxBytes: this.maxObjectBytes, cipher: this.cipher, consume: true });
    return { plaintext: opened.plaintext, type: opened.header.t, versionId, sha256: opened.sha256 };
  }

  /** The oldest version of `key` whose plaintext has digest `sha256`; only a versioned store has one behind another. */
  private async versionHolding(key: string, sha256: string): Promise<ReadObject | undefined> {
    if (this.capabilities()?.versioning === "Disabled") return undefined;
    const versions = await this.store.versionsOf(key).catch((e: unknown) => {
      if (this.lacksVersionListing(e)) return [];
      throw e;
    });
    for (const v of versions.reverse()) {
      const candidate = await this.readObject(key, { versionId: v.versionId, cacheable: false });
      if (candidate?.sha256 === sha256) return candidate;
    }
    return undefined;
  }

  /**
   * A record read outside a listing (a parent, for its child's `put`). From the cache when it is
   * there; where the first version wins, the key's versions are listed to find it.
   */
  async readRecordLive(key: string, place: Partial<Place>): Promise<LoadedRecord | undefined> {
    if (!this.pinsVersions() || this.cache.get(key)) return this.readRecord(key, place);
    let entries: ListedVersion[];
    try {
      entries = await this.store.entriesOf(key);
    } catch (e) {
      if (!this.lacksVersionListing(e)) throw e;
      return this.readRecord(key, place);
    }
    const pin = liveVersion(entries, "first");
    return pin === undefined ? undefined : this.readRecord(key, place, { pin });
  }

  /**
   * A channel value's own object. With the digest its record names (`sha256`), the right one
   * even where a store kept a later writer's value on top: then the key's versions are looked
   * through, oldest first, for it.
   */
  private async readValue(
    key: string,
    sha256: string | undefined,
    fromHistory: boolean,
  ): Promise<ReadObject | undefined> {
    if (sha256 === undefined) return this.readObject(key, { fromHistory });
    const tag = `sha256:${sha256}`;
    const cached = this.cache.get(key, tag);
    if (cached) return { ...cached, exclusive: false };
    let found = await this.readObject(key, { fromHistory, cacheable: false });
    if (found?.sha256 !== sha256) found = await this.versionHolding(key, sha256);
    if (found && this.cache.remember(key, found, tag)) found = { ...found, exclusive: false };
    return found;
  }

  /**
   * A channel value's own object as the serde takes it: a large JSON value as text, made here so
   * that nothing is left holding the plaintext when the caller parses it (see {@link asText}).
   */
  private async readValueData(
    key: string,
    sha256: string | undefined,
    fromHistory: boolean,
    serde: SerializerProtocol,
  ): Promise<{ type: string; data: Uint8Array | string } | undefined> {
    const object = await this.readValue(key, sha256, fromHistory);
    if (!object) return undefined;
    const type = object.type ?? "json";
    if (object.plaintext.byteLength < TEXT_FIRST_MIN_BYTES) return { type, data: object.plaintext };
    const data = asText(serde, type, object.plaintext);
    // the bytes are read no more: their memory goes back before the text is parsed
    if (object.exclusive && typeof data === "string") release(object.plaintext);
    return { type, data };
  }

  /**
   * Reads a record. A part of `place` left out (a component too long to keep readable in the
   * key, so the key cannot tell it) is taken from the record, which holds the original.
   */
  async readRecord(
    key: string,
    place: Partial<Place>,
    options: { versionId?: string; fromHistory?: boolean; pin?: string } = {},
  ): Promise<LoadedRecord | undefined> {
    const object = await this.readObject(key, options);
    if (!object) return undefined;
    const { head, sections } = unpack<RecordHead>(object.plaintext, "checkpoint", key);
    this.assertOwnKey(key, head);
    const where = { thread: place.thread ?? head.thread_id, ns: place.ns ?? head.checkpoint_ns };
    return { head, sections, versionId: object.versionId, place: where, fromHistory: options.fromHistory ?? false };
  }

  /**
   * A record or writes object names its own thread, namespace and checkpoint: they must be the
   * ones its key names, or it was put there from elsewhere (a copy by hand, a hostile write) and
   * must not be served as this thread's state. Envelopes of version 2 are bound to their key
   * already; version-1 objects are caught here.
   */
  private assertOwnKey(key: string, head: { thread_id: string; checkpoint_ns: string; checkpoint_id: string }): void {
    const parsed = this.layout.parse(key);
    if (
      parsed?.kind === "blob" ||
      (parsed !== undefined &&
        parsed.thread === encodeComponent(head.thread_id) &&
        parsed.ns === encodeComponent(head.checkpoint_ns) &&
        parsed.checkpointId === head.checkpoint_id)
    ) {
      return;
    }
    throw new CheckpointCorruptedError(`object ${key} names another thread, namespace or checkpoint than its key`, {
      key,
    });
  }

  /** The record of a listed group, at the version the listing pinned. */
  readGroupRecord(group: Group, place: Partial<Place>): Promise<LoadedRecord | undefined> {
    return this.readRecord(group.recordKey!, place, { pin: group.pins.get(group.recordKey!) });
  }

  /** The writes of a listed group, each at the version the listing pinned. */
  readGroupWrites(group: Group | undefined): Promise<CheckpointPendingWrite[]> {
    return this.readWrites(group?.writeKeys ?? [], false, group?.pins);
  }

  /** Reads writes objects and returns them in `writesSortKey` order. */
  async readWrites(keys: string[], fromHistory = false, pins?: Map<string, string>): Promise<CheckpointPendingWrite[]> {
    const serde = this.serde();
    const objects = await Promise.all(
      keys.map(async (key) => {
        // regular writes never change once written; special ones are replaced
        const object = await this.readObject(key, { cacheable: key.endsWith("/r"), fromHistory, pin: pins?.get(key) });
        if (!object) return undefined;
        const { head, sections } = unpack<WritesHead>(object.plaintext, "writes", key);
        this.assertOwnKey(key, head);
        // a large object's values as text, so its plaintext can go before they are parsed
        const large = object.plaintext.byteLength >= TEXT_FIRST_MIN_BYTES;
        const values = head.writes.map((w) => (large ? asText(serde, w.type, sections[w.s]!) : sections[w.s]!));
        if (large && object.exclusive && values.every((v) => typeof v === "string")) release(object.plaintext);
        return { key, head, values };
      }),
    );
    const entries: { sort: ReturnType<typeof writesSortKey>; write: Promise<CheckpointPendingWrite> }[] = [];
    for (const o of objects) {
      if (!o) continue;
      for (const [i, w] of o.head.writes.entries()) {
        entries.push({
          sort: writesSortKey(o.head.task_path ?? "", o.head.task_id, w.idx),
          write: load(serde, w.type, o.values[i]!, o.key).then(
            (value) => [o.head.task_id, w.channel, value] as CheckpointPendingWrite,
          ),
        });
      }
    }
    entries.sort((a, b) => compareWritesSortKeys(a.sort, b.sort));
    return Promise.all(entries.map((e) => e.write));
  }

  /** The write keys of a checkpoint as they were last stored (for a soft-deleted thread). */
  async historicWriteKeys(place: Place, checkpointId: string): Promise<string[]> {
    const keys = new Set<string>();
    for await (const page of this.store.listVersions(this.layout.checkpoint(place.thread, place.ns, checkpointId))) {
      for (const v of page) if (!v.isDeleteMarker && this.layout.parse(v.key)?.kind === "writes") keys.add(v.key);
    }
    return [...keys];
  }

  /** Values of `channels` (all when omitted) of a record: inline, own objects, or other records. */
  async channelValues(record: LoadedRecord, channels?: string[]): Promise<Record<string, unknown>> {
    const all = record.head.channels;
    // a value JSON has no form for was stored as nothing by older versions: left out, as
    // MemorySaver leaves it out
    const names = (channels ?? Object.keys(all)).filter((c) => {
      const ref = channelRef(all, c);
      return (
        ref !== undefined && !(ref.at === "inline" && isValueless(ref.type, record.sections[ref.s] ?? Buffer.alloc(0)))
      );
    });
    const values = await Promise.all(names.map((c) => this.channelValue(record, c, channelRef(all, c)!)));
    return Object.fromEntries(names.map((c, i) => [c, values[i]]));
  }

  private async channelValue(record: LoadedRecord, channel: string, ref: ChannelRef): Promise<unknown> {
    const { head, place, fromHistory } = record;
    const serde = this.serde();
    if (ref.at === "inline") {
      return load(
        serde,
        ref.type,
        record.sections[ref.s]!,
        this.layout.record(place.thread, place.ns, head.checkpoint_id),
      );
    }
    const missing = (key: string) =>
      new CheckpointCorruptedError(`the value of channel "${channel}" of checkpoint ${head.checkpoint_id} is missing`, {
        key,
      });
    if (ref.at === "blob") {
      const key = this.layout.blob(place.thread, place.ns, channel, ref.v);
      const value = await this.readValueData(key, ref.h, fromHistory, serde);
      if (!value) throw missing(key);
      return load(serde, value.type, value.data, key);
    }
    const key = this.layout.record(place.thread, place.ns, ref.id);
    const holder = fromHistory
      ? await this.readRecord(key, place, { fromHistory })
      : await this.readRecordLive(key, place);
    const inner = holder ? channelRef(holder.head.channels, channel) : undefined;
    if (!holder || inner?.at !== "inline") throw missing(key);
    return load(serde, inner.type, holder.sections[inner.s]!, key);
  }

  /**
   * A tuple as LangGraph expects it. `versionIdInConfig`: the S3 version id of the record is put
   * on `config.configurable.s3_version_id`, as a non-enumerable property, so configs still
   * compare equal to the ones LangGraph builds (its conformance suite compares them whole).
   */
  async assemble(
    record: LoadedRecord,
    writes: CheckpointPendingWrite[],
    versionIdInConfig: boolean,
  ): Promise<CheckpointTuple> {
    const { head, sections, place } = record;
    const serde = this.serde();
    const key = this.layout.record(place.thread, place.ns, head.checkpoint_id);
    const [checkpoint, metadata, values] = await Promise.all([
      deserialize(serde, head.checkpoint.type, sections[head.checkpoint.s]!, key) as Promise<Checkpoint>,
      deserialize(serde, head.metadata.type, sections[head.metadata.s]!, key) as Promise<CheckpointMetadata>,
      this.channelValues(record),
    ]);
    // a channel's value goes with its version: where LangGraph's serde itself drops a name
    // from the checkpoint's versions (it drops `__proto__`), the value goes too, as in MemorySaver
    const versions = checkpoint.channel_versions ?? {};
    checkpoint.channel_values = Object.fromEntries(Object.entries(values).filter(([c]) => Object.hasOwn(versions, c)));
    const parentId = head.parent_checkpoint_id;
    if (checkpoint.v < 4 && parentId) await this.migratePendingSends(checkpoint, place, parentId, record.fromHistory);
    const configurable: Record<string, unknown> = {
      thread_id: place.thread,
      checkpoint_ns: place.ns,
      checkpoint_id: head.checkpoint_id,
    };
    if (versionIdInConfig && record.versionId && record.versionId !== "null") {
      Object.defineProperty(configurable, "s3_version_id", {
        value: record.versionId,
        enumerable: false,
        writable: true,
        configurable: true,
      });
    }
    const tuple: CheckpointTuple = { config: { configurable }, checkpoint, metadata, pendingWrites: writes };
    if (parentId)
      tuple.parentConfig = {
        configurable: { thread_id: place.thread, checkpoint_ns: place.ns, checkpoint_id: parentId },
      };
    return tuple;
  }

  /** Checkpoints of format < 4 kept pending sends as TASKS writes of their parent. */
  private async migratePendingSends(
    checkpoint: Checkpoint,
    place: Place,
    parentId: string,
    fromHistory: boolean,
  ): Promise<void> {
    const writes = fromHistory
      ? await this.readWrites(await this.historicWriteKeys(place, parentId), true)
      : await this.readGroupWrites(
          await this.firstGroup(this.layout.checkpoint(place.thread, place.ns, parentId), undefined, 1000),
        );
    const values = checkpoint.channel_values as Record<string, unknown>;
    values[TASKS] = writes.filter(([, channel]) => channel === TASKS).map(([, , value]) => value);
    const versions = Object.values(checkpoint.channel_versions);
    (checkpoint.channel_versions as Record<string, number | string>)[TASKS] =
      versions.length > 0 ? maxChannelVersion(...versions) : this.nextVersion();
  }
}
