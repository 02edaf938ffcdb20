/**
 * `S3Checkpointer`: LangGraph's `BaseCheckpointSaver` on S3, the wiring of the modules and one
 * delegation per method. Keys in layout.ts, bodies in codec.ts / record.ts, every S3 request in
 * store.ts, getTuple and list in reads.ts (objects read by reader.ts), writes in writer.ts, the
 * version features in versions.ts, sharing in share.ts, retention in retention.ts.
 */

import { randomBytes } from "node:crypto";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  uuid6,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  type DeltaChannelHistory,
  type PendingWrite,
} from "@langchain/langgraph-checkpoint";
import { setupBucket, type SetupOptions } from "./bucket.js";
import { ObjectCache } from "./cache.js";
import { checkpointIdOf, namespaceOf, optionalThread, requireThreadId } from "./config.js";
import { CheckpointNotFoundError, InvalidArgumentError, VersioningUnavailableError } from "./errors.js";
import { KeyLayout } from "./layout.js";
import { createMetrics, type CheckpointerMetrics } from "./metrics.js";
import { optionsFromEnv, resolveOptions, type ResolvedOptions, type S3CheckpointerOptions } from "./options.js";
import { deltaChannelHistory } from "./delta.js";
import { TupleReader } from "./reader.js";
import { Tombstones } from "./tombstone.js";
import { ImmutableWriter, type BucketCapabilities } from "./immutability.js";
import { VERSION_PATTERN } from "./record.js";
import { S3Store } from "./store.js";
import { TupleReads } from "./reads.js";
import { CheckpointWriter } from "./writer.js";
import { reencryptThread, type ReencryptReport } from "./reencrypt.js";
import { listThreads, type ListThreadsOptions, type ThreadInfo } from "./threads.js";
import { importShared, readShared, type ImportSharedOptions, type ReadSharedOptions } from "./receive.js";
import {
  createShare,
  listShares,
  revokeShare,
  revokeSharesOf,
  type Share,
  type ShareContext,
  type ShareInfo,
  type ShareOptions,
} from "./share.js";
import { verifyObjects, type VerifyOptions, type VerifyReport } from "./verify.js";
import {
  checkPruneOptions,
  checkSweepOptions,
  pruneThread,
  type PruneOptions,
  type PruneReport,
  type RetentionDeps,
  type SweepOptions,
  type SweepReport,
} from "./retention.js";
import {
  copyThread,
  deleteThread,
  listCheckpointVersions,
  purgeThread,
  restoreThread,
  type CheckpointVersion,
  type ListVersionsOptions,
  type PurgeReport,
} from "./versions.js";

export type { SetupOptions } from "./bucket.js";

/** Options of {@link S3Checkpointer.restoreCheckpoint}. */
export interface RestoreCheckpointOptions {
  /** Thread to restore into. @default the checkpoint's own thread */
  toThreadId?: string;
}

/**
 * A LangGraph checkpointer that keeps agent state in Amazon S3 or an S3-compatible store.
 *
 * @example
 * ```ts
 * const checkpointer = new S3Checkpointer({ bucket: "agent-state", prefix: "prod/" });
 * await checkpointer.setup();
 * const graph = builder.compile({ checkpointer });
 * await graph.invoke(input, { configurable: { thread_id: "t-1" } });
 * ```
 */
export class S3Checkpointer extends BaseCheckpointSaver {
  readonly options: ResolvedOptions;
  readonly layout: KeyLayout;
  readonly metrics: CheckpointerMetrics;
  /** @internal the S3 layer, for the operator tools and tests */
  readonly store: S3Store;
  private readonly once: ImmutableWriter;
  private readonly cache: ObjectCache;
  private readonly tombs: Tombstones;
  private readonly reader: TupleReader;
  private readonly reads: TupleReads;
  private readonly writer: CheckpointWriter;
  private readonly shares: ShareContext;
  private closed = false;

  constructor(options: S3CheckpointerOptions) {
    const resolved = resolveOptions(options);
    super(resolved.serde);
    this.options = resolved;
    this.layout = new KeyLayout(resolved.prefix);
    this.metrics = createMetrics(resolved.metrics);
    this.store = new S3Store({
      client: resolved.client,
      bucket: resolved.bucket,
      metrics: this.metrics,
      logger: resolved.logger,
      multipart: {
        thresholdBytes: resolved.multipartThresholdBytes,
        partSizeBytes: resolved.multipartPartSizeBytes,
        queueSize: resolved.multipartQueueSize,
      },
      resilience: resolved.resilience,
      sse: resolved.sse,
    });
    this.once = new ImmutableWriter(
      this.store,
      (token) => this.layout.probe(token),
      resolved.versioning === "required",
    );
    this.cache = new ObjectCache(resolved.cacheMaxBytes);
    this.tombs = new Tombstones(this.store, this.layout, resolved.compression, resolved.logger);
    this.reader = new TupleReader({
      store: this.store,
      layout: this.layout,
      serde: () => this.serde,
      cache: this.cache,
      readConcurrency: resolved.readConcurrency,
      maxObjectBytes: resolved.maxObjectBytes,
      cipher: resolved.cipher,
      nextVersion: () => this.getNextVersion(undefined),
      capabilities: () => this.once.known(),
    });
    this.reads = new TupleReads({
      store: this.store,
      layout: this.layout,
      reader: this.reader,
      tombs: this.tombs,
      versionIds: resolved.versioning !== "off",
      requireVersioning: (what) => this.requireVersioning(what),
    });
    this.writer = new CheckpointWriter({
      layout: this.layout,
      once: this.once,
      reader: this.reader,
      cache: this.cache,
      tombs: this.tombs,
      metrics: this.metrics,
      serde: () => this.serde,
      compression: resolved.compression,
      cipher: resolved.cipher,
      inlineThresholdBytes: resolved.inlineThresholdBytes,
      maxObjectBytes: resolved.maxObjectBytes,
    });
    this.shares = {
      store: this.store,
      layout: this.layout,
      logger: resolved.logger,
      metrics: this.metrics,
      serde: () => this.serde,
      compression: resolved.compression,
      cipher: resolved.cipher,
      maxObjectBytes: resolved.maxObjectBytes,
      readConcurrency: resolved.readConcurrency,
      getTuple: (config) => this.getTuple(config),
      list: (config, options) => this.list(config, options),
      capabilities: () => this.capabilities(),
    };
  }

  /**
   * A checkpointer configured from the environment: `LANGGRAPH_S3_BUCKET`, `LANGGRAPH_S3_PREFIX`,
   * and the AWS SDK's own variables (`AWS_REGION`, the credentials chain, `AWS_ENDPOINT_URL_S3`).
   *
   * @example
   * ```ts
   * const checkpointer = S3Checkpointer.fromEnv();
   * ```
   */
  static fromEnv(overrides: Partial<S3CheckpointerOptions> = {}): S3Checkpointer {
    return new S3Checkpointer(optionsFromEnv(overrides));
  }

  /**
   * Checks that the bucket is reachable (creating it when asked), turns versioning on and
   * installs the lifecycle rule when asked, and probes what the bucket supports. Logs which
   * immutability guarantee holds. Idempotent: safe to run at every start.
   *
   * @example
   * ```ts
   * const caps = await checkpointer.setup({
   *   createBucket: true,
   *   versioning: true,
   *   lifecycle: { noncurrentVersionDays: 30 },
   * });
   * console.log(caps.immutability); // "conditional-create" on AWS S3 and MinIO
   * ```
   */
  async setup(options: SetupOptions = {}): Promise<BucketCapabilities> {
    this.assertOpen("setup");
    const o = this.options;
    return setupBucket(
      {
        store: this.store,
        once: this.once,
        client: o.client,
        logger: o.logger,
        bucket: o.bucket,
        prefix: o.prefix,
        versioning: o.versioning,
        policyMaxAttempts: o.resilience.maxAttempts,
      },
      options,
    );
  }

  /** What the bucket supports (probed once, on `setup()` or on the first write). */
  async capabilities(): Promise<BucketCapabilities> {
    this.assertOpen("capabilities");
    return this.once.probe();
  }

  /** Disposes the policy's listeners and releases the S3 client when this checkpointer created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.policy.dispose();
    if (this.options.ownsClient) this.options.client.destroy();
  }

  // ---- BaseCheckpointSaver ------------------------------------------------------------------

  /**
   * The checkpoint `config` names: by `checkpoint_id`, by `s3_version_id` (exactly that stored
   * version, also after the thread was deleted), or the latest of the thread and namespace.
   */
  getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    return this.timed("getTuple", () => this.reads.getTuple(config));
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    this.assertOpen("list");
    yield* this.reads.list(config, options);
  }

  put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    return this.timed("put", () => this.writer.put(config, checkpoint, metadata, newVersions));
  }

  putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    return this.timed("putWrites", () => this.writer.putWrites(config, writes, taskId, taskPath));
  }

  /**
   * Deletes a thread. With `deleteMode: "soft"` (the default) on a versioned bucket this leaves
   * delete markers: the thread vanishes from `getTuple` / `list` and `restoreThread` brings it
   * back. On an unversioned bucket, or with `deleteMode: "purge"`, it is gone for good.
   */
  deleteThread(threadId: string): Promise<void> {
    return this.timed("deleteThread", async () => {
      const thread = requireThreadId(threadId, "deleteThread");
      if (this.options.deleteMode === "purge") {
        await this.purgeThread(thread);
        return;
      }
      await deleteThread(this.store, this.layout, this.cache, this.tombs, thread);
    });
  }

  /**
   * Walks the parent chain of a checkpoint for the writes of `channels` and their seeds, as
   * `BaseCheckpointSaver` defines it, in O(d/1000) listings plus parallel reads instead of d
   * sequential `getTuple` calls.
   */
  getDeltaChannelHistory(options: {
    config: RunnableConfig;
    channels: string[];
  }): Promise<Record<string, DeltaChannelHistory>> {
    return this.timed("getDeltaChannelHistory", async () => {
      const thread = optionalThread(options.config);
      const ns = namespaceOf(options.config) ?? "";
      const checkpointId = checkpointIdOf(options.config);
      const current = thread === undefined ? Promise.resolve(undefined) : this.tombs.current(thread);
      current.catch(() => undefined); // awaited inside
      return deltaChannelHistory(
        this.reader,
        this.layout,
        this.options.readConcurrency,
        { thread, ns, checkpointId },
        options.channels,
        current,
      );
    });
  }

  /**
   * Fork-safe channel versions: two forks of one thread never mint the same (channel, version)
   * key, because each version carries 64 random bits after a zero-padded counter (so versions
   * still compare in order as strings). A thread that began with integer versions keeps them.
   */
  // Typed as `number` because `compile({ checkpointer })` accepts `BaseCheckpointSaver<number>`
  // only; LangGraph itself handles string versions (Python's savers use this very format).
  getNextVersion(current: number | undefined): number {
    if (typeof current === "number") return current + 1;
    let counter = 0;
    if (typeof (current as unknown) === "string" && (current as unknown) !== "") {
      const text = current as unknown as string;
      const match = VERSION_PATTERN.exec(text);
      counter = match ? Number(match[1]) : Number.parseInt(text, 10);
      if (!Number.isFinite(counter))
        throw new InvalidArgumentError(`getNextVersion(): cannot continue from version ${JSON.stringify(current)}`);
    }
    return `${String(counter + 1).padStart(32, "0")}.${randomBytes(8).toString("hex")}` as unknown as number;
  }

  // ---- versions, recovery, erasure ----------------------------------------------------------

  /**
   * Every stored version of the thread's checkpoints, newest first (`ListObjectVersions`,
   * paginated). Needs a versioned bucket.
   *
   * @example
   * ```ts
   * for await (const v of checkpointer.listVersions("t-1", { includeDeleted: true })) {
   *   console.log(v.checkpointId, v.versionId);
   * }
   * ```
   */
  async *listVersions(threadId: string, options: ListVersionsOptions = {}): AsyncGenerator<CheckpointVersion> {
    this.assertOpen("listVersions");
    await this.requireVersioning("listVersions()");
    yield* listCheckpointVersions(this.store, this.layout, requireThreadId(threadId, "listVersions"), options, {
      cipher: this.options.cipher,
      maxObjectBytes: this.options.maxObjectBytes,
    });
  }

  /**
   * Undoes a soft delete: every object of the thread is current again, exactly as it was.
   * Returns the number of delete markers removed.
   *
   * @example
   * ```ts
   * await checkpointer.deleteThread("t-1");
   * await checkpointer.restoreThread("t-1");
   * ```
   */
  restoreThread(threadId: string): Promise<number> {
    return this.timed("restoreThread", async () => {
      await this.requireVersioning("restoreThread()");
      const thread = requireThreadId(threadId, "restoreThread");
      return restoreThread(this.store, this.layout, this.cache, this.tombs, thread, async (key) => {
        const record = await this.reader.readRecordLive(key, { thread });
        return record?.head.lineage;
      });
    });
  }

  /**
   * Erases a thread for good: every version and delete marker of every key, confirmed by an
   * empty `ListObjectVersions`. Idempotent; logs one structured line.
   *
   * @example
   * ```ts
   * const report = await checkpointer.purgeThread("t-1");
   * // { threadId, keys, versionsFound, versionsDeleted, failed, sharesRevoked }
   * ```
   */
  purgeThread(threadId: string): Promise<PurgeReport> {
    return this.timed("purgeThread", async () => {
      const thread = requireThreadId(threadId, "purgeThread");
      return purgeThread(this.store, this.layout, this.cache, this.tombs, this.options.logger, thread, () =>
        revokeSharesOf(this.shares, thread),
      );
    });
  }

  /**
   * Makes a stored version of a checkpoint (`config.configurable.s3_version_id`, from a tuple or
   * `listVersions`) the newest checkpoint of its thread, or of `toThreadId`, as a fork
   * (`metadata.source = "fork"`). Continue with `graph.invoke(null, returnedConfig)`.
   *
   * @example
   * ```ts
   * const config = await checkpointer.restoreCheckpoint({
   *   configurable: { thread_id: "t-1", s3_version_id: v.versionId },
   * });
   * await graph.invoke(null, config);
   * ```
   */
  restoreCheckpoint(config: RunnableConfig, options: RestoreCheckpointOptions = {}): Promise<RunnableConfig> {
    return this.timed("restoreCheckpoint", async () => {
      await this.requireVersioning("restoreCheckpoint()");
      const versionId = config.configurable?.s3_version_id as string | undefined;
      if (!versionId)
        throw new InvalidArgumentError("restoreCheckpoint(): config.configurable.s3_version_id is required");
      const source = await this.getTuple(config);
      if (!source) {
        throw new CheckpointNotFoundError(
          `restoreCheckpoint(): no checkpoint version ${JSON.stringify(versionId)} in thread ${JSON.stringify(config.configurable?.thread_id)}`,
        );
      }
      const from = source.config.configurable!;
      const target =
        options.toThreadId === undefined
          ? (from.thread_id as string)
          : requireThreadId(options.toThreadId, "restoreCheckpoint");
      const sameThread = target === from.thread_id;
      const checkpoint: Checkpoint = { ...source.checkpoint, id: uuid6(-1), ts: new Date().toISOString() };
      const metadata = { ...(source.metadata as CheckpointMetadata), source: "fork" as const };
      // every channel is written again: the restored checkpoint stands on its own, in the
      // thread's current generation (the source may be from before a delete)
      return this.writer.put(
        {
          configurable: {
            thread_id: target,
            checkpoint_ns: from.checkpoint_ns,
            ...(sameThread ? { checkpoint_id: from.checkpoint_id } : {}),
          },
        },
        checkpoint,
        metadata,
        { ...checkpoint.channel_versions },
        { currentLineage: true },
      );
    });
  }

  /**
   * The threads stored under this checkpointer's prefix, in key order: cheap by default (one
   * listing per 1,000 threads); `details: true` adds namespaces, checkpoint and byte counts and
   * the newest write's time (one more listing per 1,000 objects of each thread).
   *
   * @example
   * ```ts
   * for await (const t of checkpointer.listThreads({ details: true })) console.log(t.threadId, t.checkpoints);
   * ```
   */
  async *listThreads(options: ListThreadsOptions = {}): AsyncGenerator<ThreadInfo> {
    this.assertOpen("listThreads");
    if (options === null || typeof options !== "object")
      throw new InvalidArgumentError("listThreads(): options must be an object");
    if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
      throw new InvalidArgumentError(`listThreads(): limit must be a whole number; got ${options.limit}`);
    }
    const after = options.after === undefined ? undefined : requireThreadId(options.after, "listThreads");
    yield* listThreads(this.store, this.layout, this.reader, { ...options, after });
  }

  /**
   * Removes old checkpoints of a live thread: those beyond the newest `keepLast` of each
   * namespace and/or older than `olderThan` (a checkpoint goes only when every given option
   * lets it go). Never the newest checkpoint, never anything a kept checkpoint still reads: the
   * channel values it shares, the pending writes of kept checkpoints, the ancestors a
   * `DeltaChannel` replay walks through. Safe to re-run (a second run removes nothing) and to
   * interrupt (records go before what they refer to). On a versioned bucket the removed objects
   * stay as noncurrent versions until the lifecycle rule expires them.
   *
   * Costs ⌈objects/1000⌉ listings, one read per checkpoint record (cached ones excepted), reads
   * of the writes objects a delta replay would walk, and ⌈removed/1000⌉ batch deletes.
   *
   * @example
   * ```ts
   * const report = await checkpointer.prune("t-1", { keepLast: 20, olderThan: 7 * 24 * 3600_000 });
   * console.log(report.removed, report.blobsRemoved);
   * ```
   */
  prune(threadId: string, options: PruneOptions): Promise<PruneReport> {
    return this.timed("prune", async () => {
      const thread = requireThreadId(threadId, "prune");
      checkPruneOptions(options);
      return pruneThread(this.retention, thread, options);
    });
  }

  /**
   * Deletes every thread with no write for `idleFor` milliseconds: `mode: "soft"` (the default)
   * as `deleteThread` does (restorable on a versioned bucket), `"purge"` as `purgeThread` does.
   * Threads are found with `listThreads({ details: true })` (one listing per 1,000 objects);
   * idle ones are collected first and deleted after, one by one, so an interrupted sweep is
   * finished by running it again.
   *
   * @example
   * ```ts
   * const report = await checkpointer.sweep({ idleFor: 30 * 24 * 3600_000, mode: "purge" });
   * console.log(report.idle.length, "threads purged");
   * ```
   */
  sweep(options: SweepOptions): Promise<SweepReport> {
    return this.timed("sweep", async () => {
      checkSweepOptions(options);
      const mode = options.mode ?? "soft";
      const dryRun = options.dryRun ?? false;
      const cutoff = Date.now() - options.idleFor;
      const report: SweepReport = { threads: 0, idle: [], mode, dryRun };
      for await (const t of listThreads(this.store, this.layout, this.reader, { details: true })) {
        report.threads += 1;
        if (t.lastCheckpointAt !== undefined && t.lastCheckpointAt.getTime() < cutoff) report.idle.push(t.threadId);
      }
      if (dryRun) return report;
      for (const [i, thread] of report.idle.entries()) {
        if (mode === "purge")
          await purgeThread(this.store, this.layout, this.cache, this.tombs, this.options.logger, thread);
        else await deleteThread(this.store, this.layout, this.cache, this.tombs, thread);
        options.onProgress?.({ done: i + 1, total: report.idle.length, threadId: thread });
      }
      this.options.logger.info({ threads: report.threads, idle: report.idle.length, mode }, "swept threads");
      return report;
    });
  }

  /**
   * Reads and checks every current object of a thread (or of all threads): envelope, checksums,
   * key binding, decryption, record frames. Reports corrupt objects by key; with
   * `quarantine: true` moves them to `{prefix}quarantine/` so the rest of the thread reads again.
   */
  verify(options: VerifyOptions = {}, onObject?: (checked: number) => void): Promise<VerifyReport> {
    return this.timed("verify", async () => {
      const threadId = options.threadId === undefined ? undefined : requireThreadId(options.threadId, "verify");
      const report = await verifyObjects(
        {
          store: this.store,
          layout: this.layout,
          cipher: this.options.cipher,
          maxObjectBytes: this.options.maxObjectBytes,
          concurrency: this.options.readConcurrency,
        },
        { ...options, threadId },
        onObject,
      );
      if (report.quarantined.length > 0) this.cache.forgetPrefix(this.layout.threadsRoot);
      this.options.logger.info(
        { objects: report.objects, corrupt: report.corrupt.length, quarantined: report.quarantined.length },
        "verified",
      );
      return report;
    });
  }

  /**
   * Rewrites every current object of the thread that is not under the current encryption key
   * (an older key, or none) under the current key; objects already under it are left alone, so
   * it can be run again after an interruption. On a versioned bucket older versions keep their
   * old key until the lifecycle rule or `purgeThread` removes them (the report says so).
   *
   * @example
   * ```ts
   * const report = await checkpointer.reencryptThread("t-1"); // { objects, reencrypted, alreadyCurrent, ... }
   * ```
   */
  reencryptThread(threadId: string): Promise<ReencryptReport> {
    return this.timed("reencryptThread", async () => {
      const thread = requireThreadId(threadId, "reencryptThread");
      const versioned = this.options.versioning !== "off" && (await this.capabilities()).versioning !== "Disabled";
      const report = await reencryptThread(
        {
          store: this.store,
          layout: this.layout,
          logger: this.options.logger,
          cipher: this.options.cipher,
          compression: this.options.compression,
          maxObjectBytes: this.options.maxObjectBytes,
          concurrency: this.options.readConcurrency,
          versioned,
          once: this.once,
          live: (prefix) => this.reader.liveObjects(prefix),
        },
        thread,
      );
      this.cache.forgetPrefix(this.layout.thread(thread));
      return report;
    });
  }

  /**
   * Copies every current object of a thread into an empty thread: each is read, checked and
   * sealed again for its new key (objects are bound to their keys, so a server-side copy would
   * not read back). The copy is a full, independent thread. Returns the number of objects copied.
   */
  copyThread(fromThreadId: string, toThreadId: string): Promise<number> {
    return this.timed("copyThread", () =>
      copyThread(
        this.store,
        this.layout,
        requireThreadId(fromThreadId, "copyThread"),
        requireThreadId(toThreadId, "copyThread"),
        {
          concurrency: this.options.readConcurrency,
          maxObjectBytes: this.options.maxObjectBytes,
          cipher: this.options.cipher,
          tombs: this.tombs,
          reseal: (plaintext, key) => this.writer.seal(plaintext, key),
          live: (prefix) => this.reader.liveObjects(prefix),
        },
      ),
    );
  }

  // ---- sharing through signed URLs (share.ts) ------------------------------------------------

  /**
   * Shares the checkpoint `config` names (latest, by `checkpoint_id`, or by `s3_version_id`, also
   * after the thread was deleted) as one bundle behind a presigned GET URL that works for
   * `expiresIn` seconds. Encrypted by default with a fresh key carried in the URL's fragment.
   *
   * @example
   * ```ts
   * const { url, shareId } = await checkpointer.share({ configurable: { thread_id: "t-1" } }, { expiresIn: 3600 });
   * ```
   */
  share(config: RunnableConfig, options: ShareOptions): Promise<Share> {
    return this.timed("share", () => createShare(this.shares, config, options));
  }

  /**
   * Deletes a share's bundle (every version): its URL stops working at once. `false` when there
   * was no such share.
   *
   * @example
   * ```ts
   * await checkpointer.revokeShare(shareId);
   * ```
   */
  revokeShare(shareId: string): Promise<boolean> {
    return this.timed("revokeShare", () => revokeShare(this.shares, shareId));
  }

  /**
   * The shares under this checkpointer's prefix, soonest to expire first, with what each holds.
   *
   * @example
   * ```ts
   * for await (const s of checkpointer.listShares()) {
   *   if (s.threadId === "t-1") await checkpointer.revokeShare(s.shareId);
   * }
   * ```
   */
  async *listShares(): AsyncGenerator<ShareInfo> {
    this.assertOpen("listShares");
    yield* listShares(this.shares);
  }

  /**
   * Reads a share URL with plain `fetch` (no credentials) into the shared checkpoint's tuple.
   *
   * @example
   * ```ts
   * const tuple = await S3Checkpointer.readShared(url);
   * ```
   */
  static readShared(url: string, options?: ReadSharedOptions): Promise<CheckpointTuple> {
    return readShared(url, options);
  }

  /**
   * Writes a share into any saver under `threadId`, so the graph continues there.
   *
   * @example
   * ```ts
   * const config = await S3Checkpointer.importShared(url, { into: new MemorySaver(), threadId: "mine" });
   * ```
   */
  static importShared(url: string, options: ImportSharedOptions): Promise<RunnableConfig> {
    return importShared(url, options);
  }

  // ---- internals ----------------------------------------------------------------------------

  private get retention(): RetentionDeps {
    return {
      store: this.store,
      layout: this.layout,
      reader: this.reader,
      cache: this.cache,
      tombs: this.tombs,
      serde: () => this.serde,
      logger: this.options.logger,
    };
  }

  private get versionIds(): boolean {
    return this.options.versioning !== "off";
  }

  private async requireVersioning(what: string): Promise<void> {
    if (this.options.versioning === "off") {
      throw new VersioningUnavailableError(`${what} needs versions, and option \`versioning\` is "off"`);
    }
    const caps = await this.capabilities();
    if (caps.versioning !== "Enabled") {
      throw new VersioningUnavailableError(
        `${what} needs a versioned bucket; bucket "${this.options.bucket}" is not (call setup({ versioning: true }))`,
      );
    }
  }

  /** A closed checkpointer has destroyed its client: using it must say so, not half-work. */
  private assertOpen(operation: string): void {
    if (this.closed) {
      throw new InvalidArgumentError(`${operation}(): this checkpointer was closed; create a new S3Checkpointer`);
    }
  }

  /** Runs an operation with its duration and outcome recorded, and a warning when it is slow. */
  private async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    this.assertOpen(operation);
    const done = this.metrics.operation(operation);
    const started = performance.now();
    let outcome: "success" | "error" = "error";
    try {
      const result = await fn();
      outcome = "success";
      return result;
    } finally {
      done(outcome);
      const ms = Math.round(performance.now() - started);
      if (this.options.slowOperationMs > 0 && ms > this.options.slowOperationMs) {
        this.options.logger.warn({ operation, durationMs: ms, outcome }, "slow checkpointer operation");
      }
    }
  }
}
