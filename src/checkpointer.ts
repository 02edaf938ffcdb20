/**
 * `S3Checkpointer`: LangGraph's `BaseCheckpointSaver` on S3. Keys in layout.ts, bodies in
 * codec.ts / payload.ts, every S3 request in store.ts, reading in reader.ts, the version
 * features in versions.ts.
 */

import { randomBytes } from "node:crypto";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  WRITES_IDX_MAP,
  getCheckpointId,
  uuid6,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointTuple,
  type DeltaChannelHistory,
  type PendingWrite,
} from "@langchain/langgraph-checkpoint";
import { seal } from "./codec.js";
import { CheckpointNotFoundError, InvalidArgumentError, S3RequestError, VersioningUnavailableError } from "./errors.js";
import { KeyLayout, assertCheckpointId, decodeComponent, encodeComponent } from "./layout.js";
import { createMetrics, type CheckpointerMetrics } from "./metrics.js";
import { optionsFromEnv, resolveOptions, type ResolvedOptions, type S3CheckpointerOptions } from "./options.js";
import { RECORD_FORMAT, channelRef, emptyChannels, isValueless, pack, type RecordHead, type Serialized, type WritesHead } from "./payload.js";
import { deltaChannelHistory } from "./delta.js";
import { TupleReader, type Group, type Place } from "./reader.js";
import { ImmutableWriter, type BucketCapabilities } from "./immutability.js";
import { S3Store } from "./store.js";
import {
  copyThread,
  findRecordVersion,
  listCheckpointVersions,
  mergeLifecycleRules,
  purgeThread,
  restoreThread,
  type CheckpointVersion,
  type LifecycleOptions,
  type ListVersionsOptions,
  type PurgeReport,
} from "./versions.js";

/** Options of {@link S3Checkpointer.setup}. */
export interface SetupOptions {
  /** Create the bucket when it does not exist. @default false */
  createBucket?: boolean;
  /** Turn versioning on for the bucket (needed for history, soft delete and restore). @default false */
  versioning?: boolean;
  /**
   * Install (or update) this library's lifecycle rule for its prefix, merged with the bucket's
   * other rules: expire noncurrent versions, remove expired delete markers, abort incomplete
   * multipart uploads. @default not touched
   */
  lifecycle?: LifecycleOptions;
}

/** Options of {@link S3Checkpointer.restoreCheckpoint}. */
export interface RestoreCheckpointOptions {
  /** Thread to restore into. @default the checkpoint's own thread */
  toThreadId?: string;
}

/** A fork-safe channel version: `{counter, 32 digits}.{16 random hex digits}`. */
const VERSION_PATTERN = /^(\d{32})\.[0-9a-f]{16}$/;

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
  private readonly writer: ImmutableWriter;
  private readonly reader: TupleReader;
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
    });
    this.writer = new ImmutableWriter(this.store, (token) => this.layout.probe(token), resolved.versioning === "required");
    this.reader = new TupleReader({
      store: this.store,
      layout: this.layout,
      serde: () => this.serde,
      cacheMaxBytes: resolved.cacheMaxBytes,
      readConcurrency: resolved.readConcurrency,
      maxObjectBytes: resolved.maxObjectBytes,
      nextVersion: () => this.getNextVersion(undefined),
    });
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
   * const caps = await checkpointer.setup({ createBucket: true, versioning: true, lifecycle: { noncurrentVersionDays: 30 } });
   * console.log(caps.immutability); // "conditional-create" on AWS S3 and MinIO
   * ```
   */
  async setup(options: SetupOptions = {}): Promise<BucketCapabilities> {
    await this.store.ensureBucket(options.createBucket ?? false);
    if (options.versioning && this.options.versioning !== "off" && (await this.store.getVersioning()) !== "Enabled") {
      await this.store.enableVersioning();
    }
    if (options.lifecycle) {
      const { rules, changed } = mergeLifecycleRules(await this.store.getLifecycleRules(), this.options.prefix, options.lifecycle);
      if (changed) await this.store.putLifecycleRules(rules);
    }
    this.writer.forgetCapabilities();
    const caps = await this.capabilities();
    const clientAttempts = await Promise.resolve(this.options.client.config.maxAttempts?.()).catch(() => undefined);
    if (typeof clientAttempts === "number" && clientAttempts > 1 && this.options.resilience.maxAttempts > 1) {
      this.options.logger.warn(
        { clientMaxAttempts: clientAttempts, policyMaxAttempts: this.options.resilience.maxAttempts },
        "the S3 client retries by itself too, so attempts multiply; create it with maxAttempts: 1",
      );
    }
    if (this.options.versioning === "required" && caps.versioning !== "Enabled") {
      throw new VersioningUnavailableError(
        `bucket "${this.options.bucket}" has no versioning and option \`versioning\` is "required"; call setup({ versioning: true }) or enable it on the bucket`,
      );
    }
    this.options.logger.info({ bucket: this.options.bucket, prefix: this.options.prefix, ...caps }, `checkpoint immutability by ${caps.immutability}`);
    return caps;
  }

  /** What the bucket supports (probed once, on `setup()` or on the first write). */
  capabilities(): Promise<BucketCapabilities> {
    return this.writer.probe();
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
    return this.timed("getTuple", async () => {
      const thread = optionalThread(config);
      if (thread === undefined) return undefined;
      const ns = namespaceOf(config) ?? "";
      const place = { thread, ns };
      const checkpointId = getCheckpointId(config);
      if (checkpointId) assertCheckpointId(checkpointId);
      const versionId = config.configurable?.s3_version_id as string | undefined;
      if (versionId) return this.tupleAtVersion(thread, namespaceOf(config), checkpointId || undefined, versionId);
      if (checkpointId) {
        // the record (often cached) and the listing of its writes go out together; the listing
        // also says whether the record is still there (another process may have deleted it)
        const [record, listed] = await Promise.all([
          this.reader.readRecord(this.layout.record(thread, ns, checkpointId), place),
          this.reader.firstGroup(this.layout.checkpoint(thread, ns, checkpointId)).then(async (g) => ({
            exists: g?.recordKey !== undefined,
            writes: await this.reader.readWrites(g?.writeKeys ?? []),
          })),
        ]);
        return record && listed.exists ? this.reader.assemble(record, listed.writes, this.versionIds) : undefined;
      }
      const group = await this.reader.latestGroup(this.layout.namespace(thread, ns));
      if (!group?.recordKey) return undefined;
      return this.loadGroup(group, place);
    });
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    this.assertOpen("list");
    if (config === null || typeof config !== "object") {
      throw new InvalidArgumentError("list(): config must be a RunnableConfig, e.g. { configurable: { thread_id } } (or {} for every thread)");
    }
    if (options === null || typeof options !== "object") throw new InvalidArgumentError("list(): options must be an object");
    const { filter, before } = options;
    let remaining = options.limit;
    if (remaining !== undefined && (!Number.isInteger(remaining) || remaining < 0)) {
      throw new InvalidArgumentError(`list(): limit must be a whole number; got ${remaining}`);
    }
    if (remaining === 0) return;
    const thread = optionalThread(config);
    const ns = namespaceOf(config);
    const onlyId = config.configurable?.checkpoint_id as string | undefined;
    const beforeId = before?.configurable?.checkpoint_id as string | undefined;
    if (onlyId) assertCheckpointId(onlyId);
    if (beforeId) assertCheckpointId(beforeId, "before.checkpoint_id");

    let prefix: string;
    let startAfter: string | undefined;
    if (thread === undefined) prefix = this.layout.threadsRoot;
    else if (ns === undefined) prefix = this.layout.namespaces(thread);
    else if (onlyId) prefix = this.layout.checkpoint(thread, ns, onlyId);
    else {
      prefix = this.layout.namespace(thread, ns);
      // newest-first keys: "older than `before`" is a StartAfter, not a scan
      if (beforeId) startAfter = this.layout.olderThan(thread, ns, beforeId);
    }

    const nsKey = ns === undefined ? undefined : encodeComponent(ns);
    const keep = (g: Group) =>
      (nsKey === undefined || g.ns === nsKey) && (!onlyId || g.checkpointId === onlyId) && (!beforeId || g.checkpointId < beforeId);
    for await (const groups of this.reader.groups(prefix, startAfter)) {
      const candidates = groups.filter((g) => g.recordKey && keep(g));
      // without a filter only as many as still wanted are read
      const batch = filter || remaining === undefined ? candidates : candidates.slice(0, remaining);
      const tuples = await Promise.all(batch.map((g) => this.loadGroup(g, { thread: thread ?? decodeComponent(g.thread), ns: ns ?? decodeComponent(g.ns) })));
      for (const tuple of tuples) {
        if (!tuple) continue;
        if (filter && !Object.entries(filter).every(([k, v]) => (tuple.metadata as Record<string, unknown> | undefined)?.[k] === v)) continue;
        yield tuple;
        if (remaining !== undefined && --remaining <= 0) return;
      }
    }
  }

  put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    return this.timed("put", () => this.putCheckpoint(config, checkpoint, metadata, newVersions));
  }

  putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    return this.timed("putWrites", () => this.storeWrites(config, writes, taskId, taskPath));
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
      const prefix = this.layout.thread(thread);
      // one listing page, then its batch delete: ⌈V/1000⌉ listings and ⌈V/1000⌉ deletes. A
      // continuation token goes on after its last key, deleted or not (measured on Ceph RGW too,
      // whose version listings, unlike this one, end early when their marker is deleted).
      for await (const { objects } of this.store.list(prefix)) {
        if (objects.length === 0) continue;
        const failed = await this.store.deleteMany(objects.map((o) => ({ Key: o.key })));
        if (failed.length > 0) {
          throw new S3RequestError(`deleteThread(): ${failed.length} objects could not be deleted (first: ${failed[0]!.code}); run it again`);
        }
      }
      this.reader.forget(prefix);
    });
  }

  /**
   * Walks the parent chain of a checkpoint for the writes of `channels` and their seeds, as
   * `BaseCheckpointSaver` defines it, in O(d/1000) listings plus parallel reads instead of d
   * sequential `getTuple` calls.
   */
  getDeltaChannelHistory(options: { config: RunnableConfig; channels: string[] }): Promise<Record<string, DeltaChannelHistory>> {
    return this.timed("getDeltaChannelHistory", async () => {
      const thread = optionalThread(options.config);
      const ns = namespaceOf(options.config) ?? "";
      const requested = getCheckpointId(options.config);
      if (requested) assertCheckpointId(requested);
      return deltaChannelHistory(this.reader, this.layout, this.options.readConcurrency, { thread, ns, checkpointId: requested || undefined }, options.channels);
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
      if (!Number.isFinite(counter)) throw new InvalidArgumentError(`getNextVersion(): cannot continue from version ${JSON.stringify(current)}`);
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
   * for await (const v of checkpointer.listVersions("t-1", { includeDeleted: true })) console.log(v.checkpointId, v.versionId);
   * ```
   */
  async *listVersions(threadId: string, options: ListVersionsOptions = {}): AsyncGenerator<CheckpointVersion> {
    await this.requireVersioning("listVersions()");
    yield* listCheckpointVersions(this.store, this.layout, requireThreadId(threadId, "listVersions"), options);
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
      this.reader.forget(this.layout.thread(thread));
      return restoreThread(this.store, this.layout, thread);
    });
  }

  /**
   * Erases a thread for good: every version and delete marker of every key, confirmed by an
   * empty `ListObjectVersions`. Idempotent; logs one structured line.
   *
   * @example
   * ```ts
   * const report = await checkpointer.purgeThread("t-1"); // { threadId, keys, versionsFound, versionsDeleted, failed }
   * ```
   */
  purgeThread(threadId: string): Promise<PurgeReport> {
    return this.timed("purgeThread", async () => {
      const thread = requireThreadId(threadId, "purgeThread");
      this.reader.forget(this.layout.thread(thread));
      return purgeThread(this.store, this.layout, this.options.logger, thread);
    });
  }

  /**
   * Makes a stored version of a checkpoint (`config.configurable.s3_version_id`, from a tuple or
   * `listVersions`) the newest checkpoint of its thread, or of `toThreadId`, as a fork
   * (`metadata.source = "fork"`). Continue with `graph.invoke(null, returnedConfig)`.
   *
   * @example
   * ```ts
   * const config = await checkpointer.restoreCheckpoint({ configurable: { thread_id: "t-1", s3_version_id: v.versionId } });
   * await graph.invoke(null, config);
   * ```
   */
  restoreCheckpoint(config: RunnableConfig, options: RestoreCheckpointOptions = {}): Promise<RunnableConfig> {
    return this.timed("restoreCheckpoint", async () => {
      await this.requireVersioning("restoreCheckpoint()");
      const versionId = config.configurable?.s3_version_id as string | undefined;
      if (!versionId) throw new InvalidArgumentError("restoreCheckpoint(): config.configurable.s3_version_id is required");
      const source = await this.getTuple(config);
      if (!source) {
        throw new CheckpointNotFoundError(`restoreCheckpoint(): no checkpoint version ${JSON.stringify(versionId)} in thread ${JSON.stringify(config.configurable?.thread_id)}`);
      }
      const from = source.config.configurable!;
      const target = options.toThreadId === undefined ? (from.thread_id as string) : requireThreadId(options.toThreadId, "restoreCheckpoint");
      const sameThread = target === from.thread_id;
      const checkpoint: Checkpoint = { ...source.checkpoint, id: uuid6(-1), ts: new Date().toISOString() };
      const metadata = { ...(source.metadata as CheckpointMetadata), source: "fork" as const };
      // every channel is written again: the restored checkpoint stands on its own
      return this.put(
        { configurable: { thread_id: target, checkpoint_ns: from.checkpoint_ns, ...(sameThread ? { checkpoint_id: from.checkpoint_id } : {}) } },
        checkpoint,
        metadata,
        { ...checkpoint.channel_versions },
      );
    });
  }

  /**
   * Copies every current object of a thread into an empty thread with server-side copies (no
   * download); the copy is a full, independent thread. Returns the number of objects copied.
   */
  copyThread(fromThreadId: string, toThreadId: string): Promise<number> {
    return this.timed("copyThread", () =>
      copyThread(this.store, this.layout, requireThreadId(fromThreadId, "copyThread"), requireThreadId(toThreadId, "copyThread"), {
        concurrency: this.options.readConcurrency,
        maxObjectBytes: this.options.maxObjectBytes,
        reseal: (plaintext, key) => this.seal(plaintext, key),
      }),
    );
  }

  // ---- internals ----------------------------------------------------------------------------

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

  /** Runs an operation with its duration and outcome recorded, and a warning when it is slow. */
  /** A closed checkpointer has destroyed its client: using it must say so, not half-work. */
  private assertOpen(operation: string): void {
    if (this.closed) {
      throw new InvalidArgumentError(`${operation}(): this checkpointer was closed; create a new S3Checkpointer`);
    }
  }

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

  private async loadGroup(group: Group, place: { thread?: string; ns?: string }): Promise<CheckpointTuple | undefined> {
    const [record, writes] = await Promise.all([this.reader.readRecord(group.recordKey!, place), this.reader.readWrites(group.writeKeys)]);
    return record ? this.reader.assemble(record, writes, this.versionIds) : undefined;
  }

  /** A tuple from history: the record version `versionId`, its parts as they were last stored. */
  private async tupleAtVersion(thread: string, ns: string | undefined, checkpointId: string | undefined, versionId: string): Promise<CheckpointTuple | undefined> {
    await this.requireVersioning("getTuple() by s3_version_id");
    let key: string | undefined;
    let place: Place | undefined;
    if (checkpointId) {
      place = { thread, ns: ns ?? "" };
      key = this.layout.record(thread, place.ns, checkpointId);
    } else {
      const found = await findRecordVersion(this.store, this.layout, thread, ns, versionId);
      if (found) {
        place = { thread, ns: found.ns };
        key = found.key;
      }
    }
    if (!key || !place) return undefined;
    const where = place;
    // the record version and the listing of its writes' versions go out together
    const [record, writeKeys] = await Promise.all([
      this.reader.readRecord(key, where, { versionId, fromHistory: true }),
      checkpointId ? this.reader.historicWriteKeys(where, checkpointId) : undefined,
    ]);
    if (!record) return undefined;
    const keys = writeKeys ?? (await this.reader.historicWriteKeys(where, record.head.checkpoint_id));
    return this.reader.assemble(record, await this.reader.readWrites(keys, true), true);
  }

  private async putCheckpoint(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const thread = requireThread(config, "put");
    const ns = namespaceOf(config) ?? "";
    assertCheckpointId(checkpoint?.id, "checkpoint.id");
    const parentId = (config.configurable?.checkpoint_id as string | undefined) || undefined;
    if (parentId) assertCheckpointId(parentId, "config.configurable.checkpoint_id");
    const place = { thread, ns };

    // Serialize everything before the first request: a value the serde cannot encode must fail
    // the call while nothing has been written.
    const sections: Uint8Array[] = [];
    const section = (s: Serialized) => sections.push(s.bytes) - 1;
    const { channel_values: values = {}, ...rest } = checkpoint;
    const has = (channel: string) => Object.prototype.hasOwnProperty.call(values, channel);
    const cp = await this.dump({ ...rest, channel_values: {} });
    const md = await this.dump(metadata);
    const head: RecordHead = {
      kind: "checkpoint",
      fmt: RECORD_FORMAT,
      thread_id: thread,
      checkpoint_ns: ns,
      checkpoint_id: checkpoint.id,
      ...(parentId ? { parent_checkpoint_id: parentId } : {}),
      checkpoint: { type: cp.type, s: section(cp) },
      metadata: { type: md.type, s: section(md) },
      channels: emptyChannels(),
    };
    const blobs: { key: string; body: Buffer; sha256: string; what: string }[] = [];
    for (const [channel, version] of Object.entries(newVersions ?? {})) {
      if (!has(channel)) continue; // an empty channel has no value
      const value = await this.dump((values as Record<string, unknown>)[channel]);
      if (isValueless(value.type, value.bytes)) continue; // a function or Symbol: left out, as MemorySaver does
      if (value.bytes.byteLength <= this.options.inlineThresholdBytes) {
        head.channels[channel] = { v: version, at: "inline", type: value.type, s: section(value) };
      } else {
        const key = this.layout.blob(thread, ns, channel, version);
        const sealed = await this.seal(value.bytes, key, value.type);
        blobs.push({ key, ...sealed, what: `channel "${channel}" version ${version}` });
        head.channels[channel] = { v: version, at: "blob" };
      }
    }
    // Unchanged channels: the parent record says where their (channel, version) lives.
    const changed = newVersions ?? {};
    const unchanged = Object.keys(checkpoint.channel_versions ?? {}).filter((c) => !Object.hasOwn(changed, c));
    if (unchanged.length > 0 && parentId) {
      const parent = await this.reader.readRecord(this.layout.record(thread, ns, parentId), place);
      for (const channel of unchanged) {
        const ref = parent ? channelRef(parent.head.channels, channel) : undefined;
        const version = checkpoint.channel_versions[channel]!;
        if (!ref || ref.v !== version) continue;
        if (ref.at !== "inline") {
          head.channels[channel] = { ...ref };
          continue;
        }
        const value = has(channel) ? await this.dump((values as Record<string, unknown>)[channel]) : undefined;
        if (value && isValueless(value.type, value.bytes)) continue;
        head.channels[channel] =
          value && value.bytes.byteLength <= this.options.inlineThresholdBytes
            ? { v: version, at: "inline", type: value.type, s: section(value) }
            : { v: version, at: "record", id: parentId };
      }
    }
    const recordKey = this.layout.record(thread, ns, checkpoint.id);
    const plaintext = pack(head, sections);
    const record = await this.seal(plaintext, recordKey);

    // Write order is the atomicity: channel values first, the record that refers to them last,
    // so a reader never finds a record whose parts are missing.
    await Promise.all(blobs.map((b) => this.writer.createOnce(b.key, b.body, b.sha256, b.what)));
    const created = await this.writer.createOnce(recordKey, record.body, record.sha256, `checkpoint ${checkpoint.id}`);
    this.reader.remember(recordKey, plaintext, record.sha256, created.versionId);
    return { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  private async storeWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath: string): Promise<void> {
    const thread = requireThread(config, "putWrites");
    const ns = namespaceOf(config) ?? "";
    const checkpointId = config.configurable?.checkpoint_id as string | undefined;
    if (!checkpointId) throw new InvalidArgumentError("putWrites(): config.configurable.checkpoint_id is required");
    assertCheckpointId(checkpointId);
    if (typeof taskId !== "string") throw new InvalidArgumentError("putWrites(): taskId must be a string");
    if (!Array.isArray(writes) || !writes.every((w) => Array.isArray(w) && w.length === 2 && typeof w[0] === "string")) {
      throw new InvalidArgumentError("putWrites(): writes must be an array of [channel, value] pairs with string channels");
    }

    const regular: WritesHead["writes"] = [];
    const regularSections: Uint8Array[] = [];
    const special: { idx: number; body: Buffer }[] = [];
    const base = { kind: "writes" as const, fmt: RECORD_FORMAT, thread_id: thread, checkpoint_ns: ns, checkpoint_id: checkpointId, task_id: taskId, task_path: taskPath ?? "" };
    for (const [i, [channel, value]] of writes.entries()) {
      // own properties only: a channel named `constructor` is a regular write
      const idx = Object.hasOwn(WRITES_IDX_MAP, channel) ? WRITES_IDX_MAP[channel]! : i;
      const v = await this.dump(value);
      if (idx >= 0) regular.push({ idx, channel, type: v.type, s: regularSections.push(v.bytes) - 1 });
      else special.push({ idx, body: pack({ ...base, writes: [{ idx, channel, type: v.type, s: 0 }] }, [v.bytes]) });
    }
    const jobs: Promise<unknown>[] = [];
    if (regular.length > 0) {
      // regular writes are insert-if-absent: the first write of a task's writes wins
      const key = this.layout.writes(thread, ns, checkpointId, taskId, "r");
      const sealed = await this.seal(pack({ ...base, writes: regular }, regularSections), key);
      jobs.push(this.writer.createIfAbsent(key, sealed.body, sealed.sha256));
    }
    for (const s of special) {
      // special writes (errors, interrupts, resumes, scheduled) replace the earlier one
      const key = this.layout.writes(thread, ns, checkpointId, taskId, `s${-s.idx}`);
      const sealed = await this.seal(s.body, key);
      jobs.push(this.writer.replace(key, sealed.body, sealed.sha256));
    }
    await Promise.all(jobs);
  }

  private async dump(value: unknown): Promise<Serialized> {
    const [type, bytes] = await this.serde.dumpsTyped(value);
    return { type, bytes: typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes };
  }

  private async seal(plaintext: Uint8Array, key: string, type?: string) {
    const sealed = await seal(plaintext, { compression: this.options.compression, key, type, maxBytes: this.options.maxObjectBytes });
    this.metrics.compression(sealed.plaintextBytes, sealed.body.length);
    return sealed;
  }
}

function optionalThread(config: RunnableConfig): string | undefined {
  const thread = config?.configurable?.thread_id as unknown;
  if (thread === undefined || thread === null) return undefined;
  return requireThreadId(thread, "config.configurable");
}

function requireThreadId(thread: unknown, op: string): string {
  if (typeof thread === "number" && Number.isFinite(thread)) return String(thread);
  if (typeof thread !== "string") throw new InvalidArgumentError(`${op}: thread_id must be a string; got ${thread === null ? "null" : typeof thread}`);
  return thread;
}

function requireThread(config: RunnableConfig, op: string): string {
  const thread = optionalThread(config);
  if (thread === undefined) {
    throw new InvalidArgumentError(
      `${op}(): config.configurable.thread_id is required, e.g. graph.invoke(input, { configurable: { thread_id: "my-thread" } })`,
    );
  }
  return thread;
}

function namespaceOf(config: RunnableConfig): string | undefined {
  const ns = config?.configurable?.checkpoint_ns as unknown;
  if (ns === undefined || ns === null) return undefined;
  if (typeof ns !== "string") throw new InvalidArgumentError(`config.configurable.checkpoint_ns must be a string; got ${typeof ns}`);
  return ns;
}
