/**
 * Sharing agent state through presigned URLs. `share` writes one bundle (bundle.ts) under
 * `{prefix}shares/{shareId}/` and signs a GetObject URL for it; by default the bundle is
 * encrypted with a fresh key that travels only in the URL's fragment (`#k=…`), which HTTP
 * clients never send, so S3, proxies and access logs see ciphertext only. The receiving side,
 * which needs no credentials, is receive.ts. `revokeShare` deletes every version of the share's
 * objects, so the URL stops working at once.
 */

import { randomBytes } from "node:crypto";
import type { ObjectIdentifier } from "@aws-sdk/client-s3";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { CheckpointListOptions, CheckpointTuple, SerializerProtocol } from "@langchain/langgraph-checkpoint";
import pLimit from "p-limit";
import { encodeBundle, newShareKey, sealBundle } from "./bundle.js";
import { maxEnvelopeBytes, open, seal, type EnvelopeCipher, type ResolvedCompression } from "./codec.js";
import { requireThread, versionIdOf } from "./config.js";
import { CheckpointCorruptedError, CheckpointNotFoundError, InvalidArgumentError, S3RequestError } from "./errors.js";
import type { BucketCapabilities } from "./immutability.js";
import { SHARE_ID_RANDOM_BYTES, assertShareId, shareExpiry, shareIdFor, type KeyLayout } from "./layout.js";
import type { Logger } from "./logger.js";
import type { CheckpointerMetrics } from "./metrics.js";
import { isObject } from "./record.js";
import type { S3Store } from "./store.js";
import { listCheckpointVersions } from "./versions.js";

/** Shortest URL lifetime, in seconds. */
export const MIN_SHARE_EXPIRES_IN = 1;
/** Longest URL lifetime, in seconds: 7 days, the most a SigV4 presigned URL can live. */
export const MAX_SHARE_EXPIRES_IN = 7 * 24 * 60 * 60;
/** Most ancestors one bundle takes. */
export const MAX_SHARE_HISTORY = 1000;
/** Most checkpoints of one subgraph namespace looked at for the one under the shared checkpoint. */
export const MAX_SUBGRAPH_SCAN = 100;

/** Options of `share`. */
export interface ShareOptions {
  /**
   * Seconds the URL works, 1 to 604,800 (7 days). A URL signed with temporary credentials (an
   * assumed role, SSO) stops working when they expire, whichever comes first.
   */
  expiresIn: number;
  /** Ancestors of the checkpoint to put in the bundle too (its history). @default 0 */
  history?: number;
  /** Encrypt the bundle with a fresh key carried in the URL's fragment. @default true */
  encrypt?: boolean;
}

/** A share: its URL (with the key in the fragment when encrypted), its id, when the URL expires. */
export interface Share {
  url: string;
  shareId: string;
  expiresAt: Date;
}

/** One share, as `listShares` reports it. */
export interface ShareInfo {
  shareId: string;
  expiresAt: Date;
  /** the URL no longer works (the bundle stays until revoked or removed by the lifecycle rule) */
  expired: boolean;
  createdAt?: Date;
  /** stored bytes of the bundle */
  bytes: number;
  /** what was shared; absent when its `about` object is missing */
  threadId?: string;
  checkpointNs?: string;
  checkpointId?: string;
  encrypted?: boolean;
  /** checkpoints in the bundle: the shared one and its ancestors */
  checkpoints?: number;
}

/** What the share verbs need of a checkpointer. */
export interface ShareContext {
  store: S3Store;
  layout: KeyLayout;
  logger: Logger;
  metrics: CheckpointerMetrics;
  serde: () => SerializerProtocol;
  compression: ResolvedCompression;
  /** the checkpointer's own cipher: the `about` objects are stored under it */
  cipher: EnvelopeCipher | undefined;
  maxObjectBytes: number;
  readConcurrency: number;
  getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined>;
  list(config: RunnableConfig, options: CheckpointListOptions): AsyncGenerator<CheckpointTuple>;
  capabilities(): Promise<BucketCapabilities>;
}

/** The `about` object of a share. */
interface About {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  expires_at: string;
  encrypted: boolean;
  checkpoints: number;
}

/** A whole-number argument of a share call, from `min` to `max`. */
export function wholeArgument(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}; got ${String(value)}`);
  }
  return value;
}

export async function createShare(ctx: ShareContext, config: RunnableConfig, options: ShareOptions): Promise<Share> {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("share(): options must be an object, e.g. { expiresIn: 3600 }");
  const expiresIn = wholeArgument(
    "share(): expiresIn (seconds; SigV4 allows at most 7 days)",
    options.expiresIn,
    MIN_SHARE_EXPIRES_IN,
    MAX_SHARE_EXPIRES_IN,
  );
  const history = wholeArgument("share(): history", options.history ?? 0, 0, MAX_SHARE_HISTORY);
  if (options.encrypt !== undefined && typeof options.encrypt !== "boolean")
    throw new InvalidArgumentError("share(): encrypt must be a boolean");
  requireThread(config, "share");
  const tuple = await ctx.getTuple(config);
  if (!tuple) {
    const { thread_id, checkpoint_id, s3_version_id } = config.configurable ?? {};
    throw new CheckpointNotFoundError(
      `share(): no checkpoint matches ${JSON.stringify({ thread_id, checkpoint_id, s3_version_id })}`,
    );
  }
  const { thread_id: threadId, checkpoint_ns: checkpointNs } = tuple.config.configurable as {
    thread_id: string;
    checkpoint_ns: string;
  };
  // the shared namespace's chain first (the shared checkpoint last), then its subgraphs'
  const tuples = [
    ...(await withAncestors(ctx, tuple, history, versionIdOf(config) !== undefined)),
    ...(await subgraphCheckpoints(ctx, tuple)),
  ];

  // SigV4 counts a URL's life in seconds from its signing date: the URL is signed as of this
  // second, so it expires exactly at `expiresAt`, however long the writes below take
  const createdAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const expiresAt = new Date(createdAt.getTime() + expiresIn * 1000);
  const shareId = shareIdFor(expiresAt, randomBytes(SHARE_ID_RANDOM_BYTES));
  const key = options.encrypt === false ? undefined : newShareKey();
  // serialized and sealed before anything is written: a value the serializer refuses fails here
  const plaintext = await encodeBundle(ctx.serde(), { shareId, createdAt, expiresAt, threadId, checkpointNs }, tuples);
  const bundle = await sealBundle(plaintext, {
    shareId,
    compression: ctx.compression,
    maxBytes: ctx.maxObjectBytes,
    key,
  });
  const about: About = {
    thread_id: threadId,
    checkpoint_ns: checkpointNs,
    checkpoint_id: tuple.checkpoint.id,
    expires_at: expiresAt.toISOString(),
    encrypted: key !== undefined,
    checkpoints: tuples.length,
  };
  const aboutKey = ctx.layout.shareAbout(shareId);
  const aboutSealed = await seal(Buffer.from(JSON.stringify(about), "utf8"), {
    compression: ctx.compression,
    key: aboutKey,
    cipher: ctx.cipher,
  });
  // the `about` first: a bundle is never found without it
  await ctx.store.put(aboutKey, aboutSealed.body, { sha256: aboutSealed.sha256 });
  const bundleKey = ctx.layout.shareBundle(shareId);
  await ctx.store.put(bundleKey, bundle.body, { sha256: bundle.sha256 });
  const signed = await ctx.store.presignGet(bundleKey, expiresIn, createdAt);
  ctx.metrics.shareCreated();

  // never the URL: its signature and its key are the capability
  ctx.logger.info(
    {
      shareId,
      threadId,
      checkpointNs,
      checkpointId: tuple.checkpoint.id,
      expiresAt: about.expires_at,
      encrypted: about.encrypted,
      checkpoints: tuples.length,
      bytes: bundle.body.length,
    },
    "shared a checkpoint",
  );
  return { url: key ? `${signed}#k=${key.toString("base64url")}` : signed, shareId, expiresAt };
}

/** The tuple and up to `history` of its ancestors, oldest first; by version id after a delete too. */
async function withAncestors(
  ctx: ShareContext,
  tuple: CheckpointTuple,
  history: number,
  fromHistory: boolean,
): Promise<CheckpointTuple[]> {
  const { thread_id: thread, checkpoint_ns: ns } = tuple.config.configurable as {
    thread_id: string;
    checkpoint_ns: string;
  };
  const tuples = [tuple];
  let versions: Map<string, string> | undefined;
  for (let child = tuple; tuples.length <= history;) {
    const parentId = child.parentConfig?.configurable?.checkpoint_id as string | undefined;
    if (!parentId) break;
    const at = { thread_id: thread, checkpoint_ns: ns, checkpoint_id: parentId };
    let parent = await ctx.getTuple({ configurable: at });
    if (!parent && fromHistory) {
      // a deleted thread's ancestors are found among the versions of its records
      versions ??= await recordVersions(ctx, thread, ns);
      const versionId = versions.get(parentId);
      if (versionId) parent = await ctx.getTuple({ configurable: { ...at, s3_version_id: versionId } });
    }
    if (!parent)
      throw new CheckpointNotFoundError(
        `share(): ancestor ${parentId} of checkpoint ${tuple.checkpoint.id} is gone; share with a smaller history`,
      );
    tuples.unshift(parent);
    child = parent;
  }
  return tuples;
}

/**
 * The checkpoints of subgraphs paused under the shared checkpoint (a run paused inside a
 * subgraph needs them to continue): in each namespace of one of its pending tasks, the newest
 * checkpoint whose `metadata.parents` names the shared one (LangGraph records there the
 * checkpoint of every enclosing namespace). One listing of the thread's namespaces (`/`
 * delimited), then each candidate's checkpoints, newest first, until one matches (at most
 * {@link MAX_SUBGRAPH_SCAN}). Only current checkpoints: after a delete, a share by version id
 * carries none.
 */
async function subgraphCheckpoints(ctx: ShareContext, shared: CheckpointTuple): Promise<CheckpointTuple[]> {
  const { thread_id: thread, checkpoint_ns: ns } = shared.config.configurable as {
    thread_id: string;
    checkpoint_ns: string;
  };
  // a subgraph paused under the shared checkpoint ran as one of its pending tasks, and its
  // namespace is `{ns}|{node}:{task id}` (`{node}:{task id}` at the root): only those are read
  const tasks = new Set((shared.pendingWrites ?? []).map(([taskId]) => taskId));
  const below = (child: string) => {
    const rest = ns === "" ? child : child.startsWith(`${ns}|`) ? child.slice(ns.length + 1) : undefined;
    const first = rest?.split("|")[0];
    return first !== undefined && tasks.has(first.slice(first.lastIndexOf(":") + 1));
  };
  const found: CheckpointTuple[] = [];
  if (tasks.size === 0) return found;
  for await (const folders of ctx.store.listFolders(ctx.layout.namespaces(thread))) {
    for (const folder of folders) {
      const child = ctx.layout.namespaceOfFolder(thread, folder);
      if (child === ns || (child !== undefined && !below(child))) continue;
      if (child === undefined) {
        ctx.logger.warn(
          { threadId: thread, folder },
          "share(): a namespace too long to read from its key is left out of the bundle",
        );
        continue;
      }
      for await (const t of ctx.list(
        { configurable: { thread_id: thread, checkpoint_ns: child } },
        { limit: MAX_SUBGRAPH_SCAN },
      )) {
        const parents = (t.metadata as { parents?: Record<string, unknown> } | undefined)?.parents;
        if (parents && Object.hasOwn(parents, ns) && parents[ns] === shared.checkpoint.id) {
          found.push(t);
          break;
        }
      }
    }
  }
  return found;
}

/** The newest version id of each checkpoint record of a namespace, deleted ones too. */
async function recordVersions(ctx: ShareContext, thread: string, ns: string): Promise<Map<string, string>> {
  const newest = new Map<string, string>();
  for await (const v of listCheckpointVersions(ctx.store, ctx.layout, thread, {
    checkpointNs: ns,
    includeDeleted: true,
  })) {
    if (!newest.has(v.checkpointId)) newest.set(v.checkpointId, v.versionId);
  }
  return newest;
}

/**
 * Deletes a share's objects, every version of them on a versioned bucket (a URL without a
 * version id would meet a delete marker anyway, but no older version may stay behind it).
 * `false` when there was no such share.
 */
export async function revokeShare(ctx: ShareContext, shareId: string): Promise<boolean> {
  assertShareId(shareId);
  const prefix = ctx.layout.shareRoot(shareId);
  const entries: ObjectIdentifier[] = [];
  if ((await ctx.capabilities()).versioning === "Disabled") {
    for await (const page of ctx.store.list(prefix)) entries.push(...page.objects.map((o) => ({ Key: o.key })));
  } else {
    for await (const page of ctx.store.listVersions(prefix))
      entries.push(...page.map((v) => ({ Key: v.key, VersionId: v.versionId })));
  }
  if (entries.length === 0) return false;
  const failed = await ctx.store.deleteMany(entries);
  if (failed.length > 0) {
    throw new S3RequestError(
      `revokeShare(): S3 refused to delete ${failed.length} object version(s) of share ${shareId} (${failed[0]!.code ?? "unknown"}); run it again`,
      {
        key: failed[0]!.key,
      },
    );
  }
  ctx.metrics.shareRevoked();
  ctx.logger.info(
    { shareId, expiresAt: shareExpiry(shareId)!.toISOString(), versionsDeleted: entries.length },
    "revoked a share",
  );
  return true;
}

/**
 * The shares under the prefix, in id order (which is expiry order): one listing per 1,000
 * objects, one read per share.
 */
export async function* listShares(ctx: ShareContext): AsyncGenerator<ShareInfo> {
  const limit = pLimit(ctx.readConcurrency);
  for await (const page of ctx.store.list(ctx.layout.sharesRoot)) {
    const infos = page.objects.flatMap((o) => {
      const shareId = ctx.layout.parseShareBundle(o.key);
      return shareId === undefined ? [] : [limit(() => describeShare(ctx, shareId, o.size, o.lastModified))];
    });
    for (const info of await Promise.all(infos)) yield info;
  }
}

/**
 * Revokes every share of a thread (for `purgeThread`: a bundle is a copy of the thread's state).
 * A share whose description cannot be read is left alone and logged, never a reason to stop.
 */
export async function revokeSharesOf(ctx: ShareContext, threadId: string): Promise<number> {
  const limit = pLimit(ctx.readConcurrency);
  const mine: string[] = [];
  for await (const page of ctx.store.list(ctx.layout.sharesRoot)) {
    const ids = page.objects.flatMap((o) => {
      const shareId = ctx.layout.parseShareBundle(o.key);
      return shareId === undefined ? [] : [shareId];
    });
    const infos = await Promise.all(
      ids.map((shareId) =>
        limit(() =>
          describeShare(ctx, shareId, 0, undefined).catch((e: unknown) => {
            ctx.logger.warn(
              { shareId, code: (e as { code?: string }).code },
              "a share's description cannot be read; not revoked",
            );
            return undefined;
          }),
        ),
      ),
    );
    for (const info of infos) if (info?.threadId === threadId) mine.push(info.shareId);
  }
  for (const shareId of mine) await revokeShare(ctx, shareId);
  return mine.length;
}

async function describeShare(
  ctx: ShareContext,
  shareId: string,
  bytes: number,
  createdAt: Date | undefined,
): Promise<ShareInfo> {
  const expiresAt = shareExpiry(shareId)!;
  const info: ShareInfo = {
    shareId,
    expiresAt,
    expired: Date.now() >= expiresAt.getTime(),
    bytes,
    ...(createdAt ? { createdAt } : {}),
  };
  const key = ctx.layout.shareAbout(shareId);
  // bounded as every read of ours: a body no description can be is refused before it is read
  const object = await ctx.store.get(key, undefined, { maxBytes: maxEnvelopeBytes(ctx.maxObjectBytes) });
  if (!object) return info;
  const about = JSON.parse(
    (await open(object.body, { key, cipher: ctx.cipher, maxBytes: ctx.maxObjectBytes })).plaintext.toString("utf8"),
  ) as unknown;
  if (!isObject(about)) throw new CheckpointCorruptedError(`object ${key} is not a share's description`, { key });
  const a = about as unknown as About;
  return {
    ...info,
    threadId: a.thread_id,
    checkpointNs: a.checkpoint_ns,
    checkpointId: a.checkpoint_id,
    encrypted: a.encrypted,
    checkpoints: a.checkpoints,
  };
}
