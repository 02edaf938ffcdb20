/**
 * The receiving side of a share (share.ts makes them): no credentials, no S3 client. The URL
 * without its fragment is fetched with plain `fetch`, the body counted while it streams in and
 * dropped once it exceeds its bound, then checked and deserialized (bundle.ts); an import writes
 * into any saver only after all of that.
 */

import type { RunnableConfig } from "@langchain/core/runnables";
import {
  JsonPlusSerializer,
  type BaseCheckpointSaver,
  type CheckpointTuple,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import { openBundle, sharedTuple, type Bundle } from "./bundle.js";
import { DEFAULT_MAX_OBJECT_BYTES, maxEnvelopeBytes } from "./codec.js";
import { requireThreadId } from "./config.js";
import { CheckpointCorruptedError, InvalidArgumentError, ShareUnavailableError, describeError } from "./errors.js";
import { SHARE_BUNDLE, shareExpiry } from "./layout.js";
import { copyTuples } from "./migrate.js";
import { wholeArgument } from "./share.js";

/** Options of `readShared`. */
export interface ReadSharedOptions {
  /** Serializer the sharing side used. @default LangGraph's JsonPlusSerializer */
  serde?: SerializerProtocol;
  /** Largest bundle plaintext accepted; the download stops once the body exceeds what that allows. @default 256 MiB */
  maxBytes?: number;
  /** The `fetch` to download with. @default globalThis.fetch */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** Options of `importShared`. */
export interface ImportSharedOptions extends ReadSharedOptions {
  /** Any checkpoint saver: MemorySaver, SqliteSaver, an S3Checkpointer, … */
  into: BaseCheckpointSaver;
  /** Thread to write the shared checkpoints into. */
  threadId: string;
}

/** The bundle of a share URL, downloaded (bounded), checked and deserialized. */
export async function fetchBundle(url: string, options: ReadSharedOptions = {}, op = "readShared"): Promise<Bundle> {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError(`${op}(): options must be an object`);
  const { target, shareId, key } = parseShareUrl(url, op);
  const maxBytes =
    options.maxBytes === undefined
      ? DEFAULT_MAX_OBJECT_BYTES
      : wholeArgument(`${op}(): maxBytes`, options.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  const body = await download(target, shareId, maxEnvelopeBytes(maxBytes), options);
  return openBundle(body, { shareId, maxBytes, key, serde: options.serde ?? new JsonPlusSerializer() });
}

/** The URL to fetch (without its fragment), the share id its path names, the key of its fragment. */
function parseShareUrl(url: string, op: string): { target: string; shareId: string; key?: Buffer } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InvalidArgumentError(`${op}(): the share URL is not a URL`);
  }
  if (u.protocol !== "https:" && u.protocol !== "http:")
    throw new InvalidArgumentError(`${op}(): a share URL is http(s)`);
  const k = new URLSearchParams(u.hash.slice(1)).get("k");
  u.hash = ""; // never sent anyway; stripped so no fetch implementation could
  const parts = u.pathname.split("/");
  let shareId: string | undefined;
  try {
    shareId = decodeURIComponent(parts.at(-2) ?? "");
  } catch {
    shareId = undefined;
  }
  if (parts.at(-1) !== SHARE_BUNDLE || shareExpiry(shareId) === undefined) {
    throw new InvalidArgumentError(
      `${op}(): the URL's path does not end in a share's bundle (…/shares/{shareId}/bundle); copy the whole URL`,
    );
  }
  return { target: u.toString(), shareId: shareId!, ...(k === null ? {} : { key: Buffer.from(k, "base64url") }) };
}

/** GET of the bundle; the body is counted while it streams in and dropped once it exceeds `limit`. */
async function download(target: string, shareId: string, limit: number, options: ReadSharedOptions): Promise<Buffer> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  let res: Response;
  try {
    res = await fetchImpl(target, { signal: options.signal });
  } catch (e) {
    throw new ShareUnavailableError(
      `could not download share ${shareId} (${String(describeError(e).code ?? describeError(e).error)}); check the network`,
      "failed",
      { cause: e },
    );
  }
  const requestId = res.headers.get("x-amz-request-id") ?? undefined;
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    const status = res.status;
    const details = { status, ...(requestId ? { requestId } : {}) };
    if (status === 404)
      throw new ShareUnavailableError(`share ${shareId} was revoked or never existed (HTTP 404)`, "not-found", details);
    if (status === 403 && Date.now() >= shareExpiry(shareId)!.getTime()) {
      throw new ShareUnavailableError(
        `share ${shareId} expired at ${shareExpiry(shareId)!.toISOString()}; ask for a new URL`,
        "expired",
        details,
      );
    }
    if (status === 403) {
      throw new ShareUnavailableError(
        `S3 refused share ${shareId} (HTTP 403): the URL was altered, or the credentials that signed it expired; copy the whole URL or ask for a new one`,
        "denied",
        details,
      );
    }
    throw new ShareUnavailableError(`downloading share ${shareId} failed with HTTP ${status}`, "failed", details);
  }
  const tooLarge = (bytes: number) =>
    new CheckpointCorruptedError(
      `share ${shareId}: its bundle of ${bytes}+ bytes is more than maxBytes allows (${limit} stored bytes); raise maxBytes if it is expected`,
    );
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(declared);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (res.body) {
    // a server may send more than it declared, or declare nothing: the count decides
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(total);
      }
      chunks.push(value);
    }
  }
  return Buffer.concat(chunks, total);
}

/**
 * The shared checkpoint of a URL as a tuple (its thread and namespace are the sharer's). Needs
 * no credentials: one plain `fetch` of the URL without its fragment.
 *
 * @example
 * ```ts
 * const tuple = await readShared(url);
 * console.log(tuple.checkpoint.channel_values, tuple.pendingWrites);
 * ```
 */
export async function readShared(url: string, options: ReadSharedOptions = {}): Promise<CheckpointTuple> {
  return sharedTuple(await fetchBundle(url, options));
}

/**
 * Writes a share into any saver under `threadId`: its ancestors oldest first, then the shared
 * checkpoint, each with its pending writes. Nothing is written until the whole bundle has been
 * downloaded and checked. Returns the config of the imported checkpoint.
 *
 * @example
 * ```ts
 * const memory = new MemorySaver();
 * await importShared(url, { into: memory, threadId: "review" });
 * const graph = builder.compile({ checkpointer: memory });
 * await graph.invoke(new Command({ resume: "ok" }), { configurable: { thread_id: "review" } });
 * ```
 */
export async function importShared(url: string, options: ImportSharedOptions): Promise<RunnableConfig> {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("importShared(): options { into, threadId } are required");
  const { into } = options;
  if (
    !into ||
    typeof into.put !== "function" ||
    typeof into.putWrites !== "function" ||
    typeof into.getTuple !== "function"
  ) {
    throw new InvalidArgumentError(
      "importShared(): `into` must be a checkpoint saver (MemorySaver, an S3Checkpointer, …)",
    );
  }
  const threadId = requireThreadId(options.threadId, "importShared");
  const bundle = await fetchBundle(url, options, "importShared");
  await copyTuples(into, threadId, bundle.tuples);
  return {
    configurable: {
      thread_id: threadId,
      checkpoint_ns: bundle.checkpointNs,
      checkpoint_id: sharedTuple(bundle).checkpoint.id,
    },
  };
}
