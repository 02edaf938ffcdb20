/**
 * The plaintext formats inside the envelope (see codec.ts): a checkpoint record and a writes
 * object are a JSON head plus binary sections (serialized values stay bytes, never base64):
 *
 * ```text
 * u32 head length (big-endian)  head (JSON, with `s`: the section lengths)  section bytes…
 * ```
 *
 * A channel value too large to inline is stored as its serialized bytes alone; the envelope
 * header carries its serde type.
 */

import { CheckpointCorruptedError } from "./errors.js";

export const RECORD_FORMAT = 1;

/** A fork-safe channel version as the checkpointer mints them: `{counter, 32 digits}.{16 random hex digits}`. */
export const VERSION_PATTERN = /^(\d{32})\.[0-9a-f]{16}$/;

/** A value as the serde gives it: its type and its bytes. */
export interface Serialized {
  type: string;
  bytes: Uint8Array;
}

/** Where the value of a channel at a version lives. */
export type ChannelRef =
  /** inside this record, section `s` */
  | { v: string | number; at: "inline"; type: string; s: number }
  /**
   * its own object at (channel, version); `h`, the SHA-256 of its plaintext, picks the right
   * version where a store keeps a later writer's too (absent in records of older versions)
   */
  | { v: string | number; at: "blob"; h?: string }
  /** inline in the record of checkpoint `id` of the same thread and namespace */
  | { v: string | number; at: "record"; id: string };

export interface RecordHead {
  kind: "checkpoint";
  fmt: number;
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id?: string;
  /**
   * The deletion generation the record's chain began in (tombstone.ts): the token of the
   * thread's tombstone when its root checkpoint was written, inherited by every child. Absent
   * for chains begun before the thread was ever deleted.
   */
  lineage?: string;
  checkpoint: { type: string; s: number };
  metadata: { type: string; s: number };
  channels: Record<string, ChannelRef>;
}

export interface WritesHead {
  kind: "writes";
  fmt: number;
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  task_path: string;
  writes: { idx: number; channel: string; type: string; s: number }[];
}

/**
 * The ref of `channel` in a record's channel map, or `undefined`. Own properties only: channel
 * names are user strings, and `constructor` or `toString` must not find Object.prototype's.
 */
export function channelRef(channels: Record<string, ChannelRef>, channel: string): ChannelRef | undefined {
  return Object.hasOwn(channels, channel) ? channels[channel] : undefined;
}

/** An empty channel map that has no prototype, so `__proto__` is a channel name like any other. */
export function emptyChannels(): Record<string, ChannelRef> {
  return Object.create(null) as Record<string, ChannelRef>;
}

/**
 * True for what LangGraph's serde makes of a value JSON has no form for (a function, a Symbol):
 * type `json` and zero bytes, which its own `loadsTyped` then refuses. `MemorySaver` stores a
 * checkpoint's values as one JSON document, where such a value simply drops out; this library
 * does the same (the channel is left out), and reads such a write back as `undefined`.
 */
export function isValueless(type: string, bytes: Uint8Array): boolean {
  return type === "json" && bytes.byteLength === 0;
}

/**
 * The bytes a serde loads a stored value from: a plain `Uint8Array` of their own, except JSON
 * text (which the serde decodes and does not keep). LangGraph's serde gives a `bytes` value back
 * as it is handed over: a stored section is a `Buffer` inside the plaintext the cache keeps, so
 * the caller would get a `Buffer` (whose `toJSON` makes it `{ type: "Buffer", data }` once it is
 * nested in state and serialized again) sharing memory with the cache (changing it would change
 * what later reads return). MemorySaver gives a new `Uint8Array` on every read.
 */
export function valueBytes(type: string, bytes: Uint8Array): Uint8Array {
  return type === "json" ? bytes : new Uint8Array(bytes);
}

export interface Unpacked<H> {
  head: H;
  sections: Buffer[];
}

/** Frames a head and its sections; `head.s` is set to the section lengths. */
export function pack(head: object, sections: Uint8Array[]): Buffer {
  const headBytes = Buffer.from(JSON.stringify({ ...head, s: sections.map((s) => s.byteLength) }), "utf8");
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(headBytes.length, 0);
  return Buffer.concat([prefix, headBytes, ...sections.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength))]);
}

/** Reads a frame made by {@link pack}; every field of the head is checked, so only typed errors come out. */
/**
 * What is wrong with a head of another kind, or `undefined`, given its number of sections (a
 * share's bundle, bundle.ts).
 */
export type HeadCheck = (head: Record<string, unknown>, sections: number) => string | undefined;

export function unpack<H extends { kind: string }>(
  plaintext: Buffer,
  kind: H["kind"],
  key?: string,
  check?: HeadCheck,
): Unpacked<H> {
  const corrupted = (why: string, cause?: unknown) =>
    new CheckpointCorruptedError(`object ${key ?? ""} is not a ${kind} record: ${why}`, { key, cause });
  if (plaintext.length < 4) throw corrupted("too short");
  const headLength = plaintext.readUInt32BE(0);
  if (4 + headLength > plaintext.length) throw corrupted("truncated head");
  let head: unknown;
  try {
    head = JSON.parse(plaintext.subarray(4, 4 + headLength).toString("utf8"));
  } catch (e) {
    throw corrupted("head is not JSON", e);
  }
  if (!isObject(head) || head.kind !== kind)
    throw corrupted(`kind is ${JSON.stringify(isObject(head) ? head.kind : head)}`);
  const lengths = head.s;
  if (!Array.isArray(lengths) || !lengths.every((n) => Number.isSafeInteger(n) && n >= 0))
    throw corrupted("bad section lengths");
  const sections: Buffer[] = [];
  let offset = 4 + headLength;
  for (const length of lengths as number[]) {
    if (offset + length > plaintext.length) throw corrupted("truncated section");
    sections.push(plaintext.subarray(offset, offset + length));
    offset += length;
  }
  const problem = check ?? (kind === "checkpoint" ? recordHeadProblem : writesHeadProblem);
  const why = problem(head, sections.length);
  if (why) throw corrupted(why);
  return { head: head as unknown as H, sections };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export const isString = (v: unknown): v is string => typeof v === "string";
const isSection = (v: unknown, count: number) => Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < count;
const isVersion = (v: unknown) => typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
/** `{ type, s }`: a serialized value's serde type and its section. */
export const isTyped = (v: unknown, count: number) => isObject(v) && isString(v.type) && isSection(v.s, count);

/** What is wrong with a record head, or `undefined`. */
function recordHeadProblem(head: Record<string, unknown>, count: number): string | undefined {
  if (!isString(head.thread_id) || !isString(head.checkpoint_ns) || !isString(head.checkpoint_id)) return "ids missing";
  if (head.parent_checkpoint_id !== undefined && !isString(head.parent_checkpoint_id)) return "bad parent id";
  if (head.lineage !== undefined && !isString(head.lineage)) return "bad lineage";
  if (!isTyped(head.checkpoint, count) || !isTyped(head.metadata, count)) return "checkpoint or metadata missing";
  if (!isObject(head.channels)) return "channels missing";
  for (const ref of Object.values(head.channels)) {
    if (!isObject(ref) || !isVersion(ref.v)) return "bad channel reference";
    if (
      ref.at === "inline"
        ? !isTyped(ref, count)
        : ref.at === "record"
          ? !isString(ref.id)
          : ref.at !== "blob" || (ref.h !== undefined && !isString(ref.h))
    ) {
      return "bad channel reference";
    }
  }
  return undefined;
}

/** What is wrong with a writes head, or `undefined`. */
function writesHeadProblem(head: Record<string, unknown>, count: number): string | undefined {
  if (!isString(head.thread_id) || !isString(head.checkpoint_ns) || !isString(head.checkpoint_id)) return "ids missing";
  if (!isString(head.task_id) || (head.task_path !== undefined && !isString(head.task_path))) return "bad task";
  if (!Array.isArray(head.writes)) return "writes missing";
  for (const w of head.writes) {
    if (!isTyped(w, count) || !isString(w.channel) || !Number.isSafeInteger(w.idx)) return "bad write";
  }
  return undefined;
}
