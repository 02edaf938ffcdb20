/**
 * The key layout: the only module that builds or parses S3 keys.
 *
 * ```text
 * {prefix}threads/{thread}/                               everything of one thread
 * {prefix}threads/{thread}/n/{ns}/{inv(id)}/c             checkpoint record (immutable)
 * {prefix}threads/{thread}/n/{ns}/{inv(id)}/w/{task}/r    regular writes of a task (insert-if-absent)
 * {prefix}threads/{thread}/n/{ns}/{inv(id)}/w/{task}/s{n} special write with index -n (replaced)
 * {prefix}threads/{thread}/b/{ns}/{channel}/{version}     channel value too large to inline (immutable)
 * {prefix}tombstones/{thread}                             the thread's deletion generation (tombstone.ts)
 * {prefix}shares/{shareId}/bundle                         one shared state, behind a presigned URL (share.ts)
 * {prefix}shares/{shareId}/about                          what was shared (thread, checkpoint), for listShares
 * {prefix}quarantine/{key}                                corrupt objects moved aside by verify
 * {prefix}_probe/{random}                                 capability probe of setup(), deleted again
 * ```
 *
 * - Every prefix ends in `/`, so thread `a` never matches thread `ab`.
 * - `{thread}`, `{ns}`, `{task}`, `{channel}` and `{version}` are arbitrary strings, encoded by
 *   {@link encodeComponent}: reversible, `/`-free, never `.` or `..`, and distinct inputs give
 *   distinct components, so no input escapes its prefix or lands on another's key.
 * - `inv(id)` maps a checkpoint id to a string that sorts in reverse: S3 lists keys in ascending
 *   UTF-8 order, so the newest checkpoint is listed first and `before` becomes a `StartAfter`.
 * - A checkpoint's writes are listed right after its record, so one listing of a namespace
 *   returns records and their writes together, newest first.
 */

import { createHash } from "node:crypto";
import { InvalidArgumentError, InvalidOptionError } from "./errors.js";

/** Checkpoint ids must be made of these characters (LangGraph's uuid6 ids are). */
const ID_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/** Ends every inverted id: sorts after every alphabet character, so `inv("ab") < inv("a")`. */
const INVERTED_ID_END = "~";
/** Longest checkpoint id accepted: keeps every key far below S3's 1,024-byte limit. */
export const MAX_CHECKPOINT_ID_LENGTH = 128;
/**
 * Longest encoded component kept readable. Longer ones (a 1,000-character thread id, say) are
 * replaced by a SHA-256 digest so every key stays below S3's 1,024-byte limit; the original
 * string is stored inside the objects, so nothing is lost.
 */
export const MAX_READABLE_COMPONENT = 160;

const SAFE_BYTE = /^[A-Za-z0-9_.-]$/;
const ID_PATTERN = /^[-0-9A-Za-z_]+$/;
/**
 * A UTF-16 code unit that is half of a surrogate pair without its other half (a string cut in
 * the middle of an emoji, say). UTF-8 cannot encode it: `Buffer.from(s, "utf8")` turns every
 * one into U+FFFD, which would send distinct ids to one key. No `u` flag: the regex must see
 * code units, not code points.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** `r`, or `s` and the index of a special write without its minus sign, written as `String(n)` does. */
const WRITES_GROUP = /^(r|s[1-9][0-9]{0,8})$/;
const DIGEST_COMPONENT = /^~h[0-9a-f]{64}$/;
/**
 * A share id: when its URL expires (UTC, to the second) and 128 random bits in base64url. The
 * expiry is no secret (the URL's own `X-Amz-Date` and `X-Amz-Expires` say it too), and having it
 * in the key lets `listShares` say when each share expires from one listing.
 */
const SHARE_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[A-Za-z0-9_-]{22}$/;
/** The last component of a share's bundle key: what a share URL's path ends in. */
export const SHARE_BUNDLE = "bundle";
/** Random bytes of a share id: 128 bits, 22 base64url characters. */
export const SHARE_ID_RANDOM_BYTES = 16;
/** Starts the digest input of an ill-formed string: UTF-8 never contains the byte 0xFF. */
const ILL_FORMED_DIGEST_TAG = 0xff;

/**
 * Encodes an arbitrary string as one key component.
 *
 * Bytes of `[A-Za-z0-9_.-]` stay as they are (a leading `.` excepted, so `.` and `..` cannot
 * appear); every other UTF-8 byte becomes `~XX` (upper-case hex). The empty string is `~`.
 * A lone surrogate (which has no UTF-8 form) becomes `~u` + its code unit in four upper-case
 * hex digits; `u` is no hex digit, so this escape cannot be mistaken for a byte escape, and
 * well-formed strings encode exactly as they did before lone surrogates were handled.
 * Components longer than {@link MAX_READABLE_COMPONENT} become `~h` + SHA-256 hex: `~h` cannot
 * start a readable encoding (`h` is no hex digit), so the two forms never meet. The digest is
 * taken of the UTF-8 bytes of a well-formed string, and of 0xFF + the UTF-16LE code units of
 * an ill-formed one: 0xFF never occurs in UTF-8, so the two kinds of input cannot collide.
 *
 * @example
 * ```ts
 * encodeComponent("thread-42"); // "thread-42"
 * encodeComponent("a/b");       // "a~2Fb"
 * encodeComponent("\uD83D");    // "~uD83D" (half of an emoji)
 * ```
 */
export function encodeComponent(value: string): string {
  if (value === "") return "~";
  let out = "";
  let wellFormed = true;
  let start = 0;
  for (const match of value.matchAll(LONE_SURROGATE)) {
    wellFormed = false;
    out += encodeWellFormed(value.slice(start, match.index), out === "");
    out += `~u${match[0].charCodeAt(0).toString(16).toUpperCase()}`;
    start = match.index + 1;
  }
  out += encodeWellFormed(value.slice(start), out === "");
  if (out.length <= MAX_READABLE_COMPONENT) return out;
  const hash = createHash("sha256");
  if (wellFormed) hash.update(value, "utf8");
  else hash.update(Buffer.from([ILL_FORMED_DIGEST_TAG])).update(value, "utf16le");
  return `~h${hash.digest("hex")}`;
}

/** The byte escapes of a string without lone surrogates; `first`: it starts the component. */
function encodeWellFormed(value: string, first: boolean): string {
  let out = "";
  const bytes = Buffer.from(value, "utf8");
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i]!;
    const ch = String.fromCharCode(b);
    const keep = b < 0x80 && SAFE_BYTE.test(ch) && !(first && i === 0 && ch === ".");
    out += keep ? ch : `~${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Decodes a component made by {@link encodeComponent}; `undefined` for a digest component (its
 * original lives in the object body) or for anything that is not the canonical encoding of a
 * string, so that decoding is exact: `decodeComponent(c) === s` only when `encodeComponent(s) === c`.
 */
export function decodeComponent(component: string): string | undefined {
  if (component === "~") return "";
  if (component.startsWith("~h")) return undefined;
  let decoded = "";
  const bytes: number[] = [];
  for (let i = 0; i < component.length; i += 1) {
    const ch = component[i]!;
    if (ch === "~" && component[i + 1] === "u") {
      const hex = component.slice(i + 2, i + 6);
      if (!/^D[89A-F][0-9A-F]{2}$/.test(hex)) return undefined;
      decoded += Buffer.from(bytes.splice(0)).toString("utf8") + String.fromCharCode(parseInt(hex, 16));
      i += 5;
    } else if (ch === "~") {
      const hex = component.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (SAFE_BYTE.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  decoded += Buffer.from(bytes).toString("utf8");
  // reject non-canonical input (invalid UTF-8, needless escapes, a pair written as two `~u`
  // escapes) so that decode is exact
  return encodeComponent(decoded) === component ? decoded : undefined;
}

/** True for a component {@link encodeComponent} can make: a canonical readable one or a digest. */
export function isEncodedComponent(component: string): boolean {
  return DIGEST_COMPONENT.test(component) || decodeComponent(component) !== undefined;
}

/** Throws unless `id` can be a checkpoint id in a key. */
export function assertCheckpointId(id: unknown, field = "checkpoint_id"): asserts id is string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_CHECKPOINT_ID_LENGTH || !ID_PATTERN.test(id)) {
    throw new InvalidArgumentError(
      `${field} must be 1 to ${MAX_CHECKPOINT_ID_LENGTH} characters of [A-Za-z0-9_-] (LangGraph's uuid6 ids are); ` +
        `got ${describe(id)}`,
    );
  }
}

/**
 * The id of a share that expires at `expiresAt`, from {@link SHARE_ID_RANDOM_BYTES} random bytes.
 *
 * @example
 * ```ts
 * shareIdFor(new Date("2026-12-01T20:15:00Z"), randomBytes(16)); // "20261201T201500Z-…"
 * ```
 */
export function shareIdFor(expiresAt: Date, random: Uint8Array): string {
  if (random.byteLength !== SHARE_ID_RANDOM_BYTES)
    throw new InvalidArgumentError(`a share id takes ${SHARE_ID_RANDOM_BYTES} random bytes`);
  const stamp = expiresAt
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  return `${stamp}-${Buffer.from(random).toString("base64url")}`;
}

/** When the URL of a share expires, read from its id; `undefined` for anything that is not a share id. */
export function shareExpiry(shareId: unknown): Date | undefined {
  const m = typeof shareId === "string" ? SHARE_ID.exec(shareId) : null;
  if (!m) return undefined;
  const at = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** Throws unless `shareId` is an id {@link shareIdFor} makes. */
export function assertShareId(shareId: unknown, field = "shareId"): asserts shareId is string {
  if (shareExpiry(shareId) === undefined) {
    throw new InvalidArgumentError(
      `${field} must be a share id as share() returns it (\`20261201T201500Z-\` and 22 characters); got ${describe(shareId)}`,
    );
  }
}

/**
 * What a share's bundle is bound to (the envelope's key binding, codec.ts): its id, not its S3
 * key, so a reader that knows only the URL can check it whatever the bucket, prefix or URL style.
 */
export function shareBinding(shareId: string): string {
  assertShareId(shareId);
  return `shares/${shareId}`;
}

/** Maps a checkpoint id to a component that sorts in the reverse order of the ids. */
export function invertCheckpointId(id: string): string {
  assertCheckpointId(id);
  let out = "";
  for (const ch of id) out += ID_ALPHABET[ID_ALPHABET.length - 1 - ID_ALPHABET.indexOf(ch)];
  return out + INVERTED_ID_END;
}

/** Inverse of {@link invertCheckpointId}; `undefined` for anything it did not make. */
export function revertCheckpointId(inverted: string): string | undefined {
  // a key from elsewhere must not yield an id that the key builders would then refuse
  if (!inverted.endsWith(INVERTED_ID_END) || inverted.length < 2 || inverted.length > MAX_CHECKPOINT_ID_LENGTH + 1) {
    return undefined;
  }
  let out = "";
  for (const ch of inverted.slice(0, -1)) {
    const i = ID_ALPHABET.indexOf(ch);
    if (i < 0) return undefined;
    out += ID_ALPHABET[ID_ALPHABET.length - 1 - i];
  }
  return out;
}

/** Normalizes the user's `prefix` option: `""` or a string ending in `/`. */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === "") return "";
  if (typeof prefix !== "string") throw new InvalidOptionError("option `prefix` must be a string");
  if (prefix.startsWith("/")) throw new InvalidOptionError("option `prefix` must not start with `/`");
  if (prefix.split("/").some((part) => part === "." || part === "..")) {
    throw new InvalidOptionError("option `prefix` must not contain `.` or `..` segments");
  }
  const normalized = prefix.endsWith("/") ? prefix : `${prefix}/`;
  if (Buffer.byteLength(normalized) > 256) throw new InvalidOptionError("option `prefix` must be at most 256 bytes");
  return normalized;
}

/** What a key of this layout names. */
export type ParsedKey =
  | { kind: "record"; thread: string; ns: string; checkpointId: string }
  | { kind: "writes"; thread: string; ns: string; checkpointId: string; task: string; group: WritesGroup }
  | { kind: "blob"; thread: string; ns: string; channel: string; version: string };

/** `r`: the regular writes of one task; `s{n}`: its special write of index `-n`. */
export type WritesGroup = "r" | `s${number}`;

/**
 * Components in a {@link ParsedKey} are the encoded forms; decode them with
 * {@link decodeComponent} where the original string is needed.
 */
export class KeyLayout {
  readonly prefix: string;
  readonly threadsRoot: string;
  /** Every share's bundle, and nothing else: the lifecycle rule of shares covers this prefix. */
  readonly sharesRoot: string;

  constructor(prefix: string | undefined) {
    this.prefix = normalizePrefix(prefix);
    this.threadsRoot = `${this.prefix}threads/`;
    this.sharesRoot = `${this.prefix}shares/`;
  }

  thread(threadId: string): string {
    return `${this.threadsRoot}${encodeComponent(threadId)}/`;
  }

  /** Records and writes of every namespace of a thread. */
  namespaces(threadId: string): string {
    return `${this.thread(threadId)}n/`;
  }

  namespace(threadId: string, ns: string): string {
    return `${this.namespaces(threadId)}${encodeComponent(ns)}/`;
  }

  /**
   * The namespace a folder of {@link namespaces} stands for (as `ListObjectsV2` with a `/`
   * delimiter gives it); `undefined` for a digest component (the namespace is in its records)
   * or any other string.
   */
  namespaceOfFolder(threadId: string, folder: string): string | undefined {
    const root = this.namespaces(threadId);
    if (!folder.startsWith(root) || !folder.endsWith("/")) return undefined;
    const component = folder.slice(root.length, -1);
    return component.includes("/") ? undefined : decodeComponent(component);
  }

  checkpoint(threadId: string, ns: string, checkpointId: string): string {
    return `${this.namespace(threadId, ns)}${invertCheckpointId(checkpointId)}/`;
  }

  record(threadId: string, ns: string, checkpointId: string): string {
    return `${this.checkpoint(threadId, ns, checkpointId)}c`;
  }

  writes(threadId: string, ns: string, checkpointId: string, taskId: string, group: WritesGroup): string {
    return `${this.checkpoint(threadId, ns, checkpointId)}w/${encodeComponent(taskId)}/${group}`;
  }

  blob(threadId: string, ns: string, channel: string, version: string | number): string {
    const parts = [ns, channel, String(version)].map(encodeComponent);
    return `${this.thread(threadId)}b/${parts.join("/")}`;
  }

  /**
   * `StartAfter` for listing a namespace from the checkpoints older than `checkpointId` on:
   * every key of that checkpoint is `…/{inv}/…`, and `/` < `0`, so `{inv}0` sorts after all of
   * them and before the next (older) checkpoint.
   */
  olderThan(threadId: string, ns: string, checkpointId: string): string {
    return `${this.namespace(threadId, ns)}${invertCheckpointId(checkpointId)}0`;
  }

  /**
   * `StartAfter` that lists `checkpointId` itself and everything older: `.` sorts just below
   * `/`, and no newer checkpoint's component has this one's (ending in `~`) as a prefix.
   */
  fromCheckpoint(threadId: string, ns: string, checkpointId: string): string {
    return `${this.namespace(threadId, ns)}${invertCheckpointId(checkpointId)}.`;
  }

  /** The thread's deletion tombstone (tombstone.ts): outside its prefix, so it outlives a purge. */
  tombstone(threadId: string): string {
    return this.tombstoneOf(encodeComponent(threadId));
  }

  /** {@link tombstone} of a thread component as listed (`Group.thread`). */
  tombstoneOf(threadComponent: string): string {
    return `${this.prefix}tombstones/${threadComponent}`;
  }

  /** Both objects of a share: its bundle and its `about`. */
  shareRoot(shareId: string): string {
    assertShareId(shareId);
    return `${this.sharesRoot}${shareId}/`;
  }

  /** The bundle of a share (share.ts): the one object its URL is signed for. */
  shareBundle(shareId: string): string {
    return `${this.shareRoot(shareId)}${SHARE_BUNDLE}`;
  }

  /** What a share holds (thread, checkpoint, expiry), for `listShares`; no URL is signed for it. */
  shareAbout(shareId: string): string {
    return `${this.shareRoot(shareId)}about`;
  }

  /** The share id of a bundle key; `undefined` for any other key. */
  parseShareBundle(key: string): string | undefined {
    if (!key.startsWith(this.sharesRoot) || !key.endsWith(`/${SHARE_BUNDLE}`)) return undefined;
    const id = key.slice(this.sharesRoot.length, -SHARE_BUNDLE.length - 1);
    return shareExpiry(id) === undefined ? undefined : id;
  }

  /** Where `verify --quarantine` moves a corrupt object: outside every thread, kept as it was. */
  quarantine(key: string): string {
    return `${this.prefix}quarantine/${key.slice(this.prefix.length)}`;
  }

  probe(token: string): string {
    return `${this.prefix}_probe/${token}`;
  }

  /**
   * Parses a key of this layout; `undefined` for any other key. A key that no builder here
   * makes (a non-canonical component, an id out of range, `s01`) is another key too: it could
   * otherwise be read as part of a thread whose keys it does not spell.
   */
  parse(key: string): ParsedKey | undefined {
    if (!key.startsWith(this.threadsRoot)) return undefined;
    const parts = key.slice(this.threadsRoot.length).split("/");
    const [thread, area, ns] = parts;
    if (thread === undefined || ns === undefined || !isEncodedComponent(thread) || !isEncodedComponent(ns))
      return undefined;
    if (area === "n") {
      const checkpointId = parts[3] === undefined ? undefined : revertCheckpointId(parts[3]);
      if (checkpointId === undefined) return undefined;
      if (parts.length === 5 && parts[4] === "c") return { kind: "record", thread, ns, checkpointId };
      const [, , , , w, task, group] = parts;
      if (parts.length === 7 && w === "w" && isEncodedComponent(task!) && WRITES_GROUP.test(group!)) {
        return { kind: "writes", thread, ns, checkpointId, task: task!, group: group as WritesGroup };
      }
      return undefined;
    }
    const [, , , channel, version] = parts;
    if (area === "b" && parts.length === 5 && isEncodedComponent(channel!) && isEncodedComponent(version!)) {
      return { kind: "blob", thread, ns, channel: channel!, version: version! };
    }
    return undefined;
  }
}

function describe(value: unknown): string {
  if (typeof value !== "string") return value === null ? "null" : typeof value;
  return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
}
