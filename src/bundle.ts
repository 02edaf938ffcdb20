/**
 * The bundle of a share: one self-contained object with a checkpoint, its pending writes and,
 * when asked, its ancestors, so that a reader with nothing but the URL can continue the run.
 *
 * ```text
 * body:       the envelope of codec.ts, bound to "shares/{shareId}", encrypted under the
 *             share's own key (key id "share") unless the share was made with encrypt: false
 * plaintext:  u32 head length (big-endian)  head (JSON)  section bytes…   (record.ts framing)
 * head:       { kind: "share", fmt: 1, share_id, created_at, expires_at, thread_id, checkpoint_ns,
 *               checkpoints: [ { checkpoint_id, checkpoint_ns?, parent_checkpoint_id?, checkpoint: { type, s },
 *                                metadata: { type, s }, writes: [ { task_id, channel, type, s } ] } ],
 *               s: [section lengths] }
 * ```
 *
 * `checkpoints` of the head's namespace come first, oldest first; the last of them is the one
 * shared. The checkpoints of its paused subgraphs follow, each naming its `checkpoint_ns`.
 * `{ type, s }` is a value as the serializer wrote it: its serde type (LangGraph's `json`, say)
 * and the index of the section holding its bytes. Everything is checked before a value is
 * deserialized: the envelope (format, size, checksum, key binding, decryption), then the head
 * (kind, format, share id, every field, the parent chain), then each value.
 */

import { randomBytes } from "node:crypto";
import type { CheckpointTuple, SerializerProtocol, CheckpointPendingWrite } from "@langchain/langgraph-checkpoint";
import { open, seal, type EnvelopeCipher, type ResolvedCompression, type Sealed } from "./codec.js";
import { createCipher } from "./crypto.js";
import { CheckpointCorruptedError, DecryptionFailedError } from "./errors.js";
import { shareBinding } from "./layout.js";
import { isObject, isString, isTyped, isValueless, pack, unpack, valueBytes } from "./record.js";

/** The bundle format written; a reader refuses newer ones. */
export const BUNDLE_FORMAT = 1;
/** The key id of a share's own key in the envelope header. */
export const SHARE_KEY_ID = "share";
/** A share's key: 256 bits. */
export const SHARE_KEY_BYTES = 32;

/** One checkpoint of a bundle, as stored in its head. */
interface BundleEntry {
  checkpoint_id: string;
  /** a subgraph's namespace; absent for the head's `checkpoint_ns` */
  checkpoint_ns?: string;
  parent_checkpoint_id?: string;
  checkpoint: { type: string; s: number };
  metadata: { type: string; s: number };
  writes: { task_id: string; channel: string; type: string; s: number }[];
}

interface BundleHead {
  kind: "share";
  fmt: number;
  share_id: string;
  created_at: string;
  expires_at: string;
  thread_id: string;
  checkpoint_ns: string;
  checkpoints: BundleEntry[];
}

/**
 * A bundle read back: `tuples` oldest first within each namespace; the shared checkpoint is the
 * last of the bundle's own namespace ({@link sharedTuple}); the paused subgraphs' checkpoints
 * follow it.
 */
export interface Bundle {
  shareId: string;
  createdAt: Date;
  expiresAt: Date;
  threadId: string;
  checkpointNs: string;
  tuples: CheckpointTuple[];
}

/** A fresh share key. */
export function newShareKey(): Buffer {
  return randomBytes(SHARE_KEY_BYTES);
}

/** The cipher of one share's key: encrypted bundles only (a plain one under a keyed URL is refused). */
function shareCipher(key: Uint8Array): EnvelopeCipher {
  if (key.byteLength !== SHARE_KEY_BYTES) {
    throw new DecryptionFailedError(
      `the share URL's key (#k=…) is not ${SHARE_KEY_BYTES} bytes of base64url; copy the whole URL`,
    );
  }
  return createCipher({ keys: { [SHARE_KEY_ID]: key }, currentKeyId: SHARE_KEY_ID, required: true });
}

/**
 * Serializes and frames a bundle; `tuples` oldest first, the shared checkpoint last, all of one
 * thread and namespace. Serializes before anything touches the network, so a value the
 * serializer refuses fails the share before a byte is written.
 */
export async function encodeBundle(
  serde: SerializerProtocol,
  meta: { shareId: string; createdAt: Date; expiresAt: Date; threadId: string; checkpointNs: string },
  tuples: CheckpointTuple[],
): Promise<Buffer> {
  const sections: Uint8Array[] = [];
  const add = async (value: unknown) => {
    const [type, bytes] = await serde.dumpsTyped(value);
    sections.push(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
    return { type, s: sections.length - 1 };
  };
  const checkpoints: BundleEntry[] = [];
  for (const t of tuples) {
    const parent = t.parentConfig?.configurable?.checkpoint_id as string | undefined;
    const ns = (t.config.configurable?.checkpoint_ns as string | undefined) ?? "";
    const entry: BundleEntry = {
      checkpoint_id: t.checkpoint.id,
      ...(ns !== meta.checkpointNs ? { checkpoint_ns: ns } : {}),
      ...(parent ? { parent_checkpoint_id: parent } : {}),
      checkpoint: await add(t.checkpoint),
      metadata: await add(t.metadata ?? {}),
      writes: [],
    };
    for (const [taskId, channel, value] of t.pendingWrites ?? [])
      entry.writes.push({ task_id: taskId, channel, ...(await add(value)) });
    checkpoints.push(entry);
  }
  const head: BundleHead = {
    kind: "share",
    fmt: BUNDLE_FORMAT,
    share_id: meta.shareId,
    created_at: meta.createdAt.toISOString(),
    expires_at: meta.expiresAt.toISOString(),
    thread_id: meta.threadId,
    checkpoint_ns: meta.checkpointNs,
    checkpoints,
  };
  return pack(head, sections);
}

/** Seals a framed bundle: bound to its share id, encrypted under `key` when one is given. */
export function sealBundle(
  plaintext: Buffer,
  options: { shareId: string; compression: ResolvedCompression; maxBytes: number; key?: Uint8Array },
): Promise<Sealed> {
  return seal(plaintext, {
    compression: options.compression,
    key: shareBinding(options.shareId),
    maxBytes: options.maxBytes,
    cipher: options.key ? shareCipher(options.key) : undefined,
  });
}

/**
 * Opens, checks and deserializes a bundle body of share `shareId`. With `key` (the URL's
 * fragment) the bundle must be encrypted under it; without, an encrypted bundle is a
 * {@link DecryptionFailedError}. Anything malformed is a {@link CheckpointCorruptedError}.
 */
export async function openBundle(
  body: Uint8Array,
  options: { shareId: string; maxBytes: number; key?: Uint8Array; serde: SerializerProtocol },
): Promise<Bundle> {
  const binding = shareBinding(options.shareId);
  const { plaintext } = await open(body, {
    key: binding,
    maxBytes: options.maxBytes,
    cipher: options.key ? shareCipher(options.key) : undefined,
  });
  const { head, sections } = unpack<BundleHead>(plaintext, "share", binding, bundleHeadProblem);
  const corrupted = (why: string, cause?: unknown) =>
    new CheckpointCorruptedError(`share ${options.shareId} is not a readable bundle: ${why}`, { key: binding, cause });
  if (head.share_id !== options.shareId) throw corrupted("it names another share");
  const load = async (v: { type: string; s: number }) => {
    const bytes = sections[v.s]!;
    if (isValueless(v.type, bytes)) return undefined;
    try {
      return await options.serde.loadsTyped(v.type, valueBytes(v.type, bytes));
    } catch (e) {
      throw corrupted(`a value does not deserialize (${(e as Error).message})`, e);
    }
  };
  const tuples: CheckpointTuple[] = [];
  for (const entry of head.checkpoints) {
    const checkpoint = await load(entry.checkpoint);
    if (!isObject(checkpoint) || checkpoint.id !== entry.checkpoint_id)
      throw corrupted(`checkpoint ${entry.checkpoint_id} does not hold itself`);
    const ns = entry.checkpoint_ns ?? head.checkpoint_ns;
    const where = (checkpoint_id: string) => ({
      configurable: { thread_id: head.thread_id, checkpoint_ns: ns, checkpoint_id },
    });
    const pendingWrites: CheckpointPendingWrite[] = [];
    for (const w of entry.writes) pendingWrites.push([w.task_id, w.channel, await load(w)]);
    tuples.push({
      config: where(entry.checkpoint_id),
      checkpoint: checkpoint as unknown as CheckpointTuple["checkpoint"],
      metadata: (await load(entry.metadata)) as CheckpointTuple["metadata"],
      ...(entry.parent_checkpoint_id ? { parentConfig: where(entry.parent_checkpoint_id) } : {}),
      pendingWrites,
    });
  }
  return {
    shareId: head.share_id,
    createdAt: new Date(head.created_at),
    expiresAt: new Date(head.expires_at),
    threadId: head.thread_id,
    checkpointNs: head.checkpoint_ns,
    tuples,
  };
}

/** The shared checkpoint of a bundle: the last of its own namespace. */
export function sharedTuple(bundle: Bundle): CheckpointTuple {
  return bundle.tuples.filter((t) => t.config.configurable?.checkpoint_ns === bundle.checkpointNs).at(-1)!;
}

const isDate = (v: unknown) => isString(v) && !Number.isNaN(Date.parse(v));

/** What is wrong with a bundle head, or `undefined` (record.ts calls it from `unpack`). */
function bundleHeadProblem(head: Record<string, unknown>, count: number): string | undefined {
  if (head.fmt !== BUNDLE_FORMAT) {
    return Number.isSafeInteger(head.fmt) && (head.fmt as number) > BUNDLE_FORMAT
      ? `bundle format ${String(head.fmt)} is newer than this library reads; upgrade langgraph-checkpoint-s3`
      : "unknown bundle format";
  }
  if (!isString(head.share_id) || !isString(head.thread_id) || !isString(head.checkpoint_ns)) return "ids missing";
  if (!isDate(head.created_at) || !isDate(head.expires_at)) return "bad dates";
  const entries = head.checkpoints;
  if (!Array.isArray(entries) || entries.length === 0) return "no checkpoints";
  const previous = new Map<string, string>();
  for (const e of entries as unknown[]) {
    if (!isObject(e) || !isString(e.checkpoint_id) || e.checkpoint_id === "") return "bad checkpoint id";
    if (e.parent_checkpoint_id !== undefined && !isString(e.parent_checkpoint_id)) return "bad parent id";
    if (e.checkpoint_ns !== undefined && (!isString(e.checkpoint_ns) || e.checkpoint_ns === head.checkpoint_ns))
      return "bad namespace";
    // oldest first: in each namespace, each checkpoint after the first is the child of the one before it
    const ns = (e.checkpoint_ns as string | undefined) ?? (head.checkpoint_ns as string);
    if (previous.has(ns) && e.parent_checkpoint_id !== previous.get(ns))
      return "the checkpoints do not form a parent chain";
    if (previous.size === 0 && e.checkpoint_ns !== undefined) return "the shared namespace must come first";
    if (!isTyped(e.checkpoint, count) || !isTyped(e.metadata, count)) return "checkpoint or metadata missing";
    if (!Array.isArray(e.writes)) return "writes missing";
    for (const w of e.writes as unknown[]) {
      if (
        !isTyped(w, count) ||
        !isString((w as Record<string, unknown>).task_id) ||
        !isString((w as Record<string, unknown>).channel)
      )
        return "bad write";
    }
    previous.set(ns, e.checkpoint_id);
  }
  return undefined;
}
