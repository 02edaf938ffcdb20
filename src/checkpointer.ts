/**
 * `S3Checkpointer`: LangGraph's `BaseCheckpointSaver` on S3. Storage layout in layout.ts,
 * bodies in codec.ts / payload.ts, every S3 request in store.ts.
 */

import { randomBytes } from "node:crypto";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  TASKS,
  WRITES_IDX_MAP,
  compareWritesSortKeys,
  getCheckpointId,
  maxChannelVersion,
  writesSortKey,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type DeltaChannelHistory,
  type PendingWrite,
} from "@langchain/langgraph-checkpoint";
import { LRUCache } from "lru-cache";
import pLimit, { type LimitFunction } from "p-limit";
import { open, seal, type EnvelopeHeader } from "./codec.js";
import { CheckpointCorruptedError, InvalidArgumentError } from "./errors.js";
import { KeyLayout, assertCheckpointId, encodeComponent, type ParsedKey } from "./layout.js";
import { createMetrics, type CheckpointerMetrics } from "./metrics.js";
import { optionsFromEnv, resolveOptions, type ResolvedOptions, type S3CheckpointerOptions } from "./options.js";
import { RECORD_FORMAT, pack, unpack, type ChannelRef, type RecordHead, type Serialized, type WritesHead } from "./payload.js";
import { S3Store, type BucketCapabilities } from "./store.js";

/** Options of {@link S3Checkpointer.setup}. */
export interface SetupOptions {
  /** Create the bucket when it does not exist. @default false */
  createBucket?: boolean;
}

/** One checkpoint found in a listing: its record key and the keys of its writes. */
interface Group {
  thread: string;
  ns: string;
  checkpointId: string;
  recordKey?: string;
  writeKeys: string[];
}

interface LoadedRecord {
  head: RecordHead;
  sections: Buffer[];
  versionId?: string;
}

type Version = string | number;

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
  /** @internal the S3 layer; exposed for the operator CLI and tests */
  readonly store: S3Store;
  private readonly cache: LRUCache<string, { plaintext: Buffer; header: EnvelopeHeader; versionId?: string }> | undefined;
  private readonly limit: LimitFunction;
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
    });
    this.cache =
      resolved.cacheMaxBytes > 0
        ? new LRUCache({ maxSize: resolved.cacheMaxBytes, sizeCalculation: (v) => Math.max(1, v.plaintext.length) })
        : undefined;
    this.limit = pLimit(resolved.readConcurrency);
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
   * Checks that the bucket is reachable (creating it when asked), and probes what it supports:
   * versioning, and whether conditional creates are honoured. Logs which immutability
   * guarantee holds. Safe to run at every start.
   *
   * @example
   * ```ts
   * const caps = await checkpointer.setup({ createBucket: true });
   * console.log(caps.immutability); // "conditional-create" on AWS S3 and MinIO
   * ```
   */
  async setup(options: SetupOptions = {}): Promise<BucketCapabilities> {
    await this.store.ensureBucket(options.createBucket ?? false);
    this.store.forgetCapabilities();
    const caps = await this.capabilities();
    this.options.logger.info({ bucket: this.options.bucket, prefix: this.options.prefix, ...caps }, `checkpoint immutability by ${caps.immutability}`);
    return caps;
  }

  /** What the bucket supports (probed once, on `setup()` or on the first write). */
  capabilities(): Promise<BucketCapabilities> {
    return this.store.probe((token) => this.layout.probe(token));
  }

  /** Releases the S3 client when this checkpointer created it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.options.ownsClient) this.options.client.destroy();
  }

  // ---- BaseCheckpointSaver ------------------------------------------------------------------

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const done = this.metrics.operation("getTuple");
    try {
      const result = await this.getTupleInner(config);
      done("success");
      return result;
    } catch (e) {
      done("error");
      throw e;
    }
  }

  private async getTupleInner(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const thread = optionalThread(config);
    if (thread === undefined) return undefined;
    const ns = namespaceOf(config) ?? "";
    const checkpointId = getCheckpointId(config);
    if (checkpointId) {
      assertCheckpointId(checkpointId);
      // the record (often cached) and the listing of its writes go out together
      const recordKey = this.layout.record(thread, ns, checkpointId);
      const [record, writes] = await Promise.all([
        this.readRecord(recordKey),
        this.firstGroup(this.layout.checkpoint(thread, ns, checkpointId), undefined, 100).then((g) => this.readWrites(g?.writeKeys ?? [])),
      ]);
      if (!record) return undefined;
      return this.assemble(record, writes);
    }
    const group = await this.firstGroup(this.layout.namespace(thread, ns), undefined, 100);
    if (!group?.recordKey) return undefined;
    const [record, writes] = await Promise.all([this.readRecord(group.recordKey), this.readWrites(group.writeKeys)]);
    if (!record) return undefined;
    return this.assemble(record, writes);
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
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
    for await (const groups of this.groups(prefix, startAfter)) {
      const candidates = groups.filter((g) => g.recordKey && keep(g));
      // without a filter only as many as still wanted are read
      const batch = filter || remaining === undefined ? candidates : candidates.slice(0, remaining);
      const tuples = await Promise.all(
        batch.map(async (g) => {
          const [record, writes] = await Promise.all([this.readRecord(g.recordKey!), this.readWrites(g.writeKeys)]);
          return record ? this.assemble(record, writes) : undefined;
        }),
      );
      for (const tuple of tuples) {
        if (!tuple) continue;
        if (filter && !Object.entries(filter).every(([k, v]) => (tuple.metadata as Record<string, unknown> | undefined)?.[k] === v)) continue;
        yield tuple;
        if (remaining !== undefined && --remaining <= 0) return;
      }
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const done = this.metrics.operation("put");
    try {
      const result = await this.putInner(config, checkpoint, metadata, newVersions);
      done("success");
      return result;
    } catch (e) {
      done("error");
      throw e;
    }
  }

  private async putInner(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const thread = requireThread(config, "put");
    const ns = namespaceOf(config) ?? "";
    assertCheckpointId(checkpoint?.id, "checkpoint.id");
    const parentId = (config.configurable?.checkpoint_id as string | undefined) || undefined;
    if (parentId) assertCheckpointId(parentId, "config.configurable.checkpoint_id");

    // Serialize everything before the first request: a value the serde cannot encode must fail
    // the call while nothing has been written.
    const sections: Uint8Array[] = [];
    const section = (s: Serialized) => sections.push(s.bytes) - 1;
    const { channel_values: values = {}, ...rest } = checkpoint;
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
      channels: {},
    };
    const blobs: { key: string; body: Buffer; sha256: string; what: string }[] = [];
    for (const [channel, version] of Object.entries(newVersions ?? {})) {
      if (!Object.prototype.hasOwnProperty.call(values, channel)) continue; // an empty channel has no value
      const value = await this.dump((values as Record<string, unknown>)[channel]);
      if (value.bytes.byteLength <= this.options.inlineThresholdBytes) {
        head.channels[channel] = { v: version, at: "inline", type: value.type, s: section(value) };
      } else {
        const sealed = await this.seal(value.bytes, value.type);
        blobs.push({ key: this.layout.blob(thread, ns, channel, version), ...sealed, what: `channel "${channel}" version ${version}` });
        head.channels[channel] = { v: version, at: "blob" };
      }
    }
    // Unchanged channels: the parent record says where their (channel, version) lives.
    const unchanged = Object.keys(checkpoint.channel_versions ?? {}).filter((c) => !(c in (newVersions ?? {})));
    if (unchanged.length > 0 && parentId) {
      const parent = await this.readRecord(this.layout.record(thread, ns, parentId));
      for (const channel of unchanged) {
        const ref = parent?.head.channels[channel];
        const version = checkpoint.channel_versions[channel]!;
        if (!ref || ref.v !== version) continue;
        if (ref.at === "blob" || ref.at === "record") {
          head.channels[channel] = { ...ref };
          continue;
        }
        const value = Object.prototype.hasOwnProperty.call(values, channel)
          ? await this.dump((values as Record<string, unknown>)[channel])
          : undefined;
        head.channels[channel] =
          value && value.bytes.byteLength <= this.options.inlineThresholdBytes
            ? { v: version, at: "inline", type: value.type, s: section(value) }
            : { v: version, at: "record", id: parentId };
      }
    }
    const recordKey = this.layout.record(thread, ns, checkpoint.id);
    const plaintext = pack(head, sections);
    const record = await this.seal(plaintext);

    // Write order is the atomicity: channel values first, the record that refers to them last,
    // so a reader never finds a record whose parts are missing.
    await Promise.all(blobs.map((b) => this.store.createOnce(b.key, b.body, b.sha256, b.what)));
    const created = await this.store.createOnce(recordKey, record.body, record.sha256, `checkpoint ${checkpoint.id}`);
    this.cache?.set(recordKey, { plaintext, header: { c: "none", n: plaintext.length, h: record.sha256 }, versionId: created.versionId });
    return { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ""): Promise<void> {
    const done = this.metrics.operation("putWrites");
    try {
      await this.putWritesInner(config, writes, taskId, taskPath);
      done("success");
    } catch (e) {
      done("error");
      throw e;
    }
  }

  private async putWritesInner(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath: string): Promise<void> {
    const thread = requireThread(config, "putWrites");
    const ns = namespaceOf(config) ?? "";
    const checkpointId = config.configurable?.checkpoint_id as string | undefined;
    if (!checkpointId) throw new InvalidArgumentError("putWrites(): config.configurable.checkpoint_id is required");
    assertCheckpointId(checkpointId);
    if (typeof taskId !== "string") throw new InvalidArgumentError("putWrites(): taskId must be a string");
    if (!Array.isArray(writes)) throw new InvalidArgumentError("putWrites(): writes must be an array of [channel, value]");

    const regular: WritesHead["writes"] = [];
    const regularSections: Uint8Array[] = [];
    const special: { idx: number; body: Buffer }[] = [];
    const base = { kind: "writes" as const, fmt: RECORD_FORMAT, thread_id: thread, checkpoint_ns: ns, checkpoint_id: checkpointId, task_id: taskId, task_path: taskPath ?? "" };
    for (const [i, [channel, value]] of writes.entries()) {
      const idx = WRITES_IDX_MAP[channel] ?? i;
      const v = await this.dump(value);
      if (idx >= 0) {
        regular.push({ idx, channel, type: v.type, s: regularSections.push(v.bytes) - 1 });
      } else {
        special.push({ idx, body: pack({ ...base, writes: [{ idx, channel, type: v.type, s: 0 }] }, [v.bytes]) });
      }
    }
    const jobs: Promise<unknown>[] = [];
    if (regular.length > 0) {
      // regular writes are insert-if-absent: the first write of a task's writes wins
      const sealed = await this.seal(pack({ ...base, writes: regular }, regularSections));
      jobs.push(this.store.createIfAbsent(this.layout.writes(thread, ns, checkpointId, taskId, "r"), sealed.body, sealed.sha256));
    }
    for (const s of special) {
      // special writes (errors, interrupts, resumes, scheduled) replace the earlier one
      const sealed = await this.seal(s.body);
      jobs.push(this.store.replace(this.layout.writes(thread, ns, checkpointId, taskId, `s${-s.idx}`), sealed.body, sealed.sha256));
    }
    await Promise.all(jobs);
  }

  async deleteThread(threadId: string): Promise<void> {
    const done = this.metrics.operation("deleteThread");
    try {
      if (typeof threadId !== "string" && typeof threadId !== "number") throw new InvalidArgumentError("deleteThread(): threadId must be a string");
      const prefix = this.layout.thread(String(threadId));
      // one listing page, then its batch delete: ⌈V/1000⌉ listings and ⌈V/1000⌉ deletes
      for await (const page of this.store.list(prefix)) {
        if (page.length === 0) continue;
        const failed = await this.store.deleteMany(page.map((o) => ({ Key: o.key })));
        if (failed.length > 0) {
          throw new CheckpointCorruptedError(`deleteThread(): ${failed.length} objects could not be deleted (first: ${failed[0]!.code}); run it again`);
        }
      }
      this.forgetCached(prefix);
      done("success");
    } catch (e) {
      done("error");
      throw e;
    }
  }

  /**
   * Walks the parent chain of a checkpoint for the writes of `channels` and their seeds, as
   * `BaseCheckpointSaver` defines it, in O(d/1000) listings plus parallel reads instead of d
   * sequential `getTuple` calls.
   */
  async getDeltaChannelHistory(options: { config: RunnableConfig; channels: string[] }): Promise<Record<string, DeltaChannelHistory>> {
    const { config, channels } = options;
    if (channels.length === 0) return {};
    const empty = () => Object.fromEntries(channels.map((c) => [c, { writes: [] }]));
    const thread = optionalThread(config);
    if (thread === undefined) return empty();
    const ns = namespaceOf(config) ?? "";
    const requested = getCheckpointId(config);
    if (requested) assertCheckpointId(requested);
    const targetId = requested || (await this.firstGroup(this.layout.namespace(thread, ns), undefined, 100))?.checkpointId;
    if (!targetId) return empty();

    // Records of the target and everything older, read a growing batch at a time.
    const groups = new Map<string, Group>();
    const records = new Map<string, LoadedRecord | undefined>();
    const pages = this.groups(this.layout.namespace(thread, ns), this.layout.fromCheckpoint(thread, ns, targetId));
    let exhausted = false;
    let pendingIds: string[] = [];
    let batch = this.options.readConcurrency * 2;
    const need = async (id: string): Promise<LoadedRecord | undefined> => {
      while (!records.has(id)) {
        if (pendingIds.length === 0) {
          if (exhausted) return undefined;
          const next = await pages.next();
          if (next.done) {
            exhausted = true;
            continue;
          }
          for (const g of next.value) {
            if (groups.has(g.checkpointId) || !g.recordKey) continue;
            groups.set(g.checkpointId, g);
            pendingIds.push(g.checkpointId);
          }
          continue;
        }
        const take = pendingIds.slice(0, batch);
        pendingIds = pendingIds.slice(batch);
        batch = Math.min(batch * 4, 1000);
        const loaded = await Promise.all(take.map((i) => this.readRecord(groups.get(i)!.recordKey!)));
        take.forEach((i, n) => records.set(i, loaded[n]));
      }
      return records.get(id);
    };

    const target = await need(targetId);
    // on-path ancestors, newest first, with the channels still unresolved when each is reached
    const steps: { id: string; record: LoadedRecord; open: string[]; seeds: string[] }[] = [];
    const remaining = new Set(channels);
    let cursor = target?.head.parent_checkpoint_id;
    while (cursor !== undefined && remaining.size > 0) {
      const record = await need(cursor);
      if (!record) break;
      const open = [...remaining];
      const seeds = open.filter((c) => record.head.channels[c] !== undefined);
      steps.push({ id: cursor, record, open, seeds });
      for (const c of seeds) remaining.delete(c);
      cursor = record.head.parent_checkpoint_id;
    }
    await pages.return(undefined);

    const collected: Record<string, CheckpointPendingWrite[]> = Object.fromEntries(channels.map((c) => [c, []]));
    const seedValues: Record<string, unknown> = {};
    await Promise.all(
      steps.map(async (step) => {
        const [writes, values] = await Promise.all([
          this.readWrites(groups.get(step.id)?.writeKeys ?? []),
          this.channelValues(step.record, step.seeds),
        ]);
        Object.assign(seedValues, values);
        (step as { writes?: CheckpointPendingWrite[] }).writes = writes;
      }),
    );
    for (const step of steps) {
      const writes = (step as { writes?: CheckpointPendingWrite[] }).writes ?? [];
      const open = new Set(step.open);
      for (let i = writes.length - 1; i >= 0; i -= 1) if (open.has(writes[i]![1])) collected[writes[i]![1]]!.push(writes[i]!);
    }
    const result: Record<string, DeltaChannelHistory> = {};
    for (const c of channels) {
      const entry: DeltaChannelHistory = { writes: collected[c]!.slice().reverse() };
      if (Object.prototype.hasOwnProperty.call(seedValues, c) && seedValues[c] !== undefined) entry.seed = seedValues[c];
      result[c] = entry;
    }
    return result;
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

  // ---- reading ------------------------------------------------------------------------------

  /** Listing pages turned into checkpoint groups, newest first; a group never spans two yields. */
  private async *groups(prefix: string, startAfter?: string, pageSize?: number): AsyncGenerator<Group[]> {
    let open: Group | undefined;
    let openId = "";
    for await (const page of this.store.list(prefix, { startAfter, pageSize })) {
      const out: Group[] = [];
      for (const { key } of page) {
        const parsed = this.layout.parse(key);
        if (!parsed || parsed.kind === "blob") continue;
        const id = `${parsed.thread}/${parsed.ns}/${parsed.checkpointId}`;
        if (!open || id !== openId) {
          if (open) out.push(open);
          open = { thread: parsed.thread, ns: parsed.ns, checkpointId: parsed.checkpointId, writeKeys: [] };
          openId = id;
        }
        addKey(open, parsed, key);
      }
      if (out.length > 0) yield out;
    }
    if (open) yield [open];
  }

  /** The first (newest) group under a prefix, with all of its write keys. */
  private async firstGroup(prefix: string, startAfter: string | undefined, pageSize: number): Promise<Group | undefined> {
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

  private async readObject(key: string, versionId?: string, cacheable = true) {
    const cacheKey = versionId ? `${key}?versionId=${versionId}` : key;
    const cached = cacheable ? this.cache?.get(cacheKey) : undefined;
    if (cached) return cached;
    const object = await this.limit(() => this.store.get(key, versionId));
    if (!object) return undefined;
    const opened = await open(object.body, key);
    const entry = { plaintext: opened.plaintext, header: opened.header, versionId: object.versionId };
    if (cacheable) this.cache?.set(cacheKey, entry);
    return entry;
  }

  private async readRecord(key: string, versionId?: string): Promise<LoadedRecord | undefined> {
    const object = await this.readObject(key, versionId);
    if (!object) return undefined;
    const { head, sections } = unpack<RecordHead>(object.plaintext, "checkpoint", key);
    return { head, sections, versionId: object.versionId };
  }

  /** Reads writes objects and returns them in `writesSortKey` order. */
  private async readWrites(keys: string[]): Promise<CheckpointPendingWrite[]> {
    const objects = await Promise.all(
      keys.map(async (key) => {
        // regular writes never change once written; special ones are replaced
        const object = await this.readObject(key, undefined, key.endsWith("/r"));
        return object ? { key, ...unpack<WritesHead>(object.plaintext, "writes", key) } : undefined;
      }),
    );
    const entries: { sort: ReturnType<typeof writesSortKey>; write: Promise<CheckpointPendingWrite> }[] = [];
    for (const o of objects) {
      if (!o) continue;
      for (const w of o.head.writes) {
        entries.push({
          sort: writesSortKey(o.head.task_path ?? "", o.head.task_id, w.idx),
          write: this.serde.loadsTyped(w.type, o.sections[w.s]!).then((value) => [o.head.task_id, w.channel, value] as CheckpointPendingWrite),
        });
      }
    }
    entries.sort((a, b) => compareWritesSortKeys(a.sort, b.sort));
    return Promise.all(entries.map((e) => e.write));
  }

  /** Values of `channels` (all when omitted) of a record: inline, own objects, or other records. */
  private async channelValues(record: LoadedRecord, channels?: string[]): Promise<Record<string, unknown>> {
    const { head } = record;
    const names = channels ?? Object.keys(head.channels);
    const values = await Promise.all(names.map((c) => this.channelValue(record, c, head.channels[c]!)));
    return Object.fromEntries(names.map((c, i) => [c, values[i]]));
  }

  private async channelValue(record: LoadedRecord, channel: string, ref: ChannelRef): Promise<unknown> {
    const { head } = record;
    if (ref.at === "inline") return this.serde.loadsTyped(ref.type, record.sections[ref.s]!);
    if (ref.at === "blob") {
      const key = this.layout.blob(head.thread_id, head.checkpoint_ns, channel, ref.v);
      const object = await this.readObject(key);
      if (!object) throw new CheckpointCorruptedError(`the value of channel "${channel}" of checkpoint ${head.checkpoint_id} is missing`, { key });
      return this.serde.loadsTyped(object.header.t ?? "json", object.plaintext);
    }
    const key = this.layout.record(head.thread_id, head.checkpoint_ns, ref.id);
    const holder = await this.readRecord(key);
    const inner = holder?.head.channels[channel];
    if (!holder || inner?.at !== "inline") {
      throw new CheckpointCorruptedError(`the value of channel "${channel}" of checkpoint ${head.checkpoint_id} is missing`, { key });
    }
    return this.serde.loadsTyped(inner.type, holder.sections[inner.s]!);
  }

  private async assemble(record: LoadedRecord, writes: CheckpointPendingWrite[]): Promise<CheckpointTuple> {
    const { head, sections } = record;
    const [checkpoint, metadata, values] = await Promise.all([
      this.serde.loadsTyped(head.checkpoint.type, sections[head.checkpoint.s]!) as Promise<Checkpoint>,
      this.serde.loadsTyped(head.metadata.type, sections[head.metadata.s]!) as Promise<CheckpointMetadata>,
      this.channelValues(record),
    ]);
    checkpoint.channel_values = values;
    const parentId = head.parent_checkpoint_id;
    if (checkpoint.v < 4 && parentId) await this.migratePendingSends(checkpoint, head.thread_id, head.checkpoint_ns, parentId);
    const configurable = { thread_id: head.thread_id, checkpoint_ns: head.checkpoint_ns, checkpoint_id: head.checkpoint_id };
    const tuple: CheckpointTuple = { config: { configurable }, checkpoint, metadata, pendingWrites: writes };
    if (parentId) tuple.parentConfig = { configurable: { thread_id: head.thread_id, checkpoint_ns: head.checkpoint_ns, checkpoint_id: parentId } };
    return tuple;
  }

  /** Checkpoints of format < 4 kept pending sends as TASKS writes of their parent. */
  private async migratePendingSends(checkpoint: Checkpoint, thread: string, ns: string, parentId: string): Promise<void> {
    const group = await this.firstGroup(this.layout.checkpoint(thread, ns, parentId), undefined, 1000);
    const writes = await this.readWrites(group?.writeKeys ?? []);
    const values = checkpoint.channel_values as Record<string, unknown>;
    values[TASKS] = writes.filter(([, channel]) => channel === TASKS).map(([, , value]) => value);
    const versions = Object.values(checkpoint.channel_versions);
    (checkpoint.channel_versions as Record<string, Version>)[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
  }

  // ---- helpers ------------------------------------------------------------------------------

  private async dump(value: unknown): Promise<Serialized> {
    const [type, bytes] = await this.serde.dumpsTyped(value);
    return { type, bytes: typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes };
  }

  private async seal(plaintext: Uint8Array, type?: string) {
    const sealed = await seal(plaintext, this.options.compression, type);
    this.metrics.compression(sealed.plaintextBytes, sealed.body.length);
    return sealed;
  }

  private forgetCached(prefix: string): void {
    if (!this.cache) return;
    for (const key of this.cache.keys()) if (key.startsWith(prefix)) this.cache.delete(key);
  }
}

function addKey(group: Group, parsed: Exclude<ParsedKey, { kind: "blob" }>, key: string): void {
  if (parsed.kind === "record") group.recordKey = key;
  else group.writeKeys.push(key);
}

function optionalThread(config: RunnableConfig): string | undefined {
  const thread = config?.configurable?.thread_id as unknown;
  if (thread === undefined || thread === null) return undefined;
  if (typeof thread === "number" && Number.isFinite(thread)) return String(thread);
  if (typeof thread !== "string") throw new InvalidArgumentError(`config.configurable.thread_id must be a string; got ${typeof thread}`);
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
