/**
 * The write path: a checkpoint or a task's writes serialized (all of it before the first
 * request), encoded as records (record.ts), sealed (codec.ts) and written once (immutability.ts)
 * in the order that makes a write atomic for readers: channel values first, the record last.
 */

import type { RunnableConfig } from "@langchain/core/runnables";
import {
  WRITES_IDX_MAP,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointMetadata,
  type PendingWrite,
  type SerializerProtocol,
} from "@langchain/langgraph-checkpoint";
import type { ObjectCache } from "./cache.js";
import { sealStream, type EnvelopeCipher, type ResolvedCompression, type SealedStream } from "./codec.js";
import { checkpointIdOf, namespaceOf, requireThread } from "./config.js";
import { CheckpointConflictError, InvalidArgumentError } from "./errors.js";
import type { ImmutableWriter } from "./immutability.js";
import { assertCheckpointId, type KeyLayout } from "./layout.js";
import type { CheckpointerMetrics } from "./metrics.js";
import { LRUCache } from "lru-cache";
import type { LoadedRecord, Place, TupleReader } from "./reader.js";
import { Tombstones, type Lineage } from "./tombstone.js";
import {
  RECORD_FORMAT,
  channelRef,
  emptyChannels,
  isValueless,
  pack,
  type RecordHead,
  type Serialized,
  type WritesHead,
} from "./record.js";

export interface WriterConfig {
  layout: KeyLayout;
  once: ImmutableWriter;
  reader: TupleReader;
  cache: ObjectCache;
  tombs: Tombstones;
  metrics: CheckpointerMetrics;
  serde: () => SerializerProtocol;
  compression: ResolvedCompression;
  cipher: EnvelopeCipher | undefined;
  inlineThresholdBytes: number;
  maxObjectBytes: number;
}

/** Records whose lineage one instance remembers, so a child's `put` need not read its parent. */
const KNOWN_LINEAGES = 10_000;

/** Options of {@link CheckpointWriter.put} that LangGraph's `put` does not have. */
export interface PutOptions {
  /** Give the checkpoint the thread's current lineage, whatever its parent's (a restore). */
  currentLineage?: boolean;
}

export class CheckpointWriter {
  private readonly lineages = new LRUCache<string, { value: Lineage }>({ max: KNOWN_LINEAGES });

  constructor(private readonly config: WriterConfig) {}

  /** `put`: the checkpoint's record, and an object for each changed channel value above the inline threshold. */
  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: ChannelVersions,
    options: PutOptions = {},
  ): Promise<RunnableConfig> {
    const { layout, reader, inlineThresholdBytes } = this.config;
    const thread = requireThread(config, "put");
    const ns = namespaceOf(config) ?? "";
    assertCheckpointId(checkpoint?.id, "checkpoint.id");
    const parentId = checkpointIdOf(config, "config.configurable.checkpoint_id");
    const place = { thread, ns };

    // Serialize everything before the first request: a value the serde cannot encode must fail
    // the call while nothing has been written.
    const sections: Uint8Array[] = [];
    const section = (s: Serialized) => sections.push(s.bytes) - 1;
    const { channel_values: values = {}, ...rest } = checkpoint;
    const has = (channel: string) => Object.hasOwn(values, channel);
    // the parent record, read at most once (usually from the cache) when it is needed
    let parentRead: Promise<LoadedRecord | undefined> | undefined;
    const parent = () => (parentRead ??= reader.readRecordLive(layout.record(thread, ns, parentId!), place));
    const lineage = options.currentLineage
      ? await this.config.tombs.current(thread)
      : await this.lineageOf(place, parentId, parent);
    const valueOf = (channel: string) => this.dump((values as Record<string, unknown>)[channel]);
    const cp = await this.dump({ ...rest, channel_values: {} });
    const md = await this.dump(metadata);
    const head: RecordHead = {
      kind: "checkpoint",
      fmt: RECORD_FORMAT,
      thread_id: thread,
      checkpoint_ns: ns,
      checkpoint_id: checkpoint.id,
      ...(parentId ? { parent_checkpoint_id: parentId } : {}),
      ...(lineage !== undefined ? { lineage } : {}),
      checkpoint: { type: cp.type, s: section(cp) },
      metadata: { type: md.type, s: section(md) },
      channels: emptyChannels(),
    };
    const blobs: { key: string; sealed: SealedStream; what: string }[] = [];
    for (const [channel, version] of Object.entries(newVersions ?? {})) {
      if (!has(channel)) continue; // an empty channel has no value
      const value = await valueOf(channel);
      if (isValueless(value.type, value.bytes)) continue; // a function or Symbol: left out, as MemorySaver does
      if (value.bytes.byteLength <= inlineThresholdBytes) {
        head.channels[channel] = { v: version, at: "inline", type: value.type, s: section(value) };
      } else {
        const key = layout.blob(thread, ns, channel, version);
        const sealed = await this.seal(value.bytes, key, value.type);
        blobs.push({ key, sealed, what: `channel "${channel}" version ${version}` });
        // the digest lets readers tell this value from another writer's under the same key
        head.channels[channel] = { v: version, at: "blob", h: sealed.plaintextSha256 };
      }
    }
    // Unchanged channels: the parent record says where their (channel, version) lives.
    const changed = newVersions ?? {};
    const unchanged = Object.keys(checkpoint.channel_versions ?? {}).filter((c) => !Object.hasOwn(changed, c));
    if (unchanged.length > 0 && parentId) {
      const parentRecord = await parent();
      for (const channel of unchanged) {
        const ref = parentRecord ? channelRef(parentRecord.head.channels, channel) : undefined;
        const version = checkpoint.channel_versions[channel]!;
        if (!ref || ref.v !== version) continue;
        if (ref.at !== "inline") {
          head.channels[channel] = { ...ref };
          continue;
        }
        const value = has(channel) ? await valueOf(channel) : undefined;
        if (value && isValueless(value.type, value.bytes)) continue;
        head.channels[channel] =
          value && value.bytes.byteLength <= inlineThresholdBytes
            ? { v: version, at: "inline", type: value.type, s: section(value) }
            : { v: version, at: "record", id: parentId };
      }
    }
    const recordKey = layout.record(thread, ns, checkpoint.id);
    const plaintext = pack(head, sections);
    const record = await this.seal(plaintext, recordKey);
    // this instance has the record already (it wrote or read it): other content is a conflict,
    // told before any request (where the first version wins, the store itself could not tell)
    const known = this.config.cache.get(recordKey);
    if (known && !known.plaintext.equals(plaintext)) {
      throw new CheckpointConflictError(
        `checkpoint ${checkpoint.id} was already written with other content; a checkpoint is never overwritten`,
        {
          key: recordKey,
        },
      );
    }

    // Write order is the atomicity: channel values first, the record that refers to them last,
    // so a reader never finds a record whose parts are missing.
    await Promise.all(blobs.map((b) => this.config.once.createOnce(b.key, b.sealed.body, b.sealed.sha256, b.what)));
    const created = await this.config.once.createOnce(
      recordKey,
      record.body,
      record.sha256,
      `checkpoint ${checkpoint.id}`,
    );
    this.config.cache.remember(recordKey, { plaintext, versionId: created.versionId });
    this.lineages.set(recordKey, { value: lineage });
    return { configurable: { thread_id: thread, checkpoint_ns: ns, checkpoint_id: checkpoint.id } };
  }

  /**
   * `putWrites`: one object of a task's regular writes (the first one stored wins, as
   * LangGraph's savers keep it), one per special write (errors, interrupts: the latest wins).
   */
  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath: string): Promise<void> {
    const { layout, once } = this.config;
    const thread = requireThread(config, "putWrites");
    const ns = namespaceOf(config) ?? "";
    const checkpointId = checkpointIdOf(config);
    if (!checkpointId) throw new InvalidArgumentError("putWrites(): config.configurable.checkpoint_id is required");
    if (typeof taskId !== "string") throw new InvalidArgumentError("putWrites(): taskId must be a string");
    if (
      !Array.isArray(writes) ||
      !writes.every((w) => Array.isArray(w) && w.length === 2 && typeof w[0] === "string")
    ) {
      throw new InvalidArgumentError(
        "putWrites(): writes must be an array of [channel, value] pairs with string channels",
      );
    }

    const regular: WritesHead["writes"] = [];
    const regularSections: Uint8Array[] = [];
    // by index: two special writes of one index in one call share a key, and written side by
    // side the store would keep either; the last one wins, as in MemorySaver
    const special = new Map<number, Buffer>();
    const base = {
      kind: "writes" as const,
      fmt: RECORD_FORMAT,
      thread_id: thread,
      checkpoint_ns: ns,
      checkpoint_id: checkpointId,
      task_id: taskId,
      task_path: taskPath ?? "",
    };
    for (const [i, [channel, value]] of writes.entries()) {
      // own properties only: a channel named `constructor` is a regular write
      const idx = Object.hasOwn(WRITES_IDX_MAP, channel) ? WRITES_IDX_MAP[channel]! : i;
      const v = await this.dump(value);
      if (idx >= 0) regular.push({ idx, channel, type: v.type, s: regularSections.push(v.bytes) - 1 });
      else special.set(idx, pack({ ...base, writes: [{ idx, channel, type: v.type, s: 0 }] }, [v.bytes]));
    }
    const jobs: Promise<unknown>[] = [];
    if (regular.length > 0) {
      const key = layout.writes(thread, ns, checkpointId, taskId, "r");
      const sealed = await this.seal(pack({ ...base, writes: regular }, regularSections), key);
      jobs.push(once.createIfAbsent(key, sealed.body, sealed.sha256));
    }
    for (const [idx, body] of special) {
      const key = layout.writes(thread, ns, checkpointId, taskId, `s${-idx}`);
      const sealed = await this.seal(body, key);
      jobs.push(once.replace(key, sealed.body, sealed.sha256));
    }
    await Promise.all(jobs);
  }

  /**
   * The lineage of a new checkpoint (tombstone.ts): a root takes the thread's current token, a
   * child its parent's. A child whose parent is gone from a thread that was deleted is a late
   * write of a run that outlived the delete: it gets a lineage that never shows.
   */
  private async lineageOf(
    place: Place,
    parentId: string | undefined,
    parent: () => Promise<LoadedRecord | undefined>,
  ): Promise<Lineage> {
    if (!parentId) return this.config.tombs.forRoot(place.thread);
    const known = this.lineages.get(this.config.layout.record(place.thread, place.ns, parentId));
    if (known) return known.value;
    const record = await parent();
    if (record) return record.head.lineage;
    const current = await this.config.tombs.current(place.thread);
    return current === undefined ? undefined : Tombstones.orphan();
  }

  /**
   * Seals a plaintext for `key` (bound to it), counting the compression ratio. A large one is
   * sealed as a stream (codec.ts `sealStream`): compressed a frame at a time while it is
   * uploaded, its ratio counted when the last frame is out.
   */
  async seal(plaintext: Uint8Array, key: string, type?: string): Promise<SealedStream> {
    const { compression, cipher, maxObjectBytes, metrics } = this.config;
    const sealed = await sealStream(plaintext, { compression, key, type, maxBytes: maxObjectBytes, cipher });
    const { body, plaintextBytes } = sealed;
    if (Buffer.isBuffer(body)) {
      metrics.compression(plaintextBytes, body.length);
      return sealed;
    }
    return {
      ...sealed,
      body: {
        async *stream() {
          let stored = 0;
          for await (const chunk of body.stream()) {
            stored += chunk.byteLength;
            yield chunk;
          }
          metrics.compression(plaintextBytes, stored);
        },
      },
    };
  }

  /**
   * A value as the serde encodes it. What it cannot encode (a structure nested deeper than the
   * stack allows, a serde that throws) fails the call here, before the first request.
   */
  private async dump(value: unknown): Promise<Serialized> {
    let typed: [string, Uint8Array | string];
    try {
      typed = await this.config.serde().dumpsTyped(value);
    } catch (e) {
      // the error's name only: a serde's message may quote the value, and state stays out of messages
      const why = e instanceof Error ? e.name : typeof e;
      throw new InvalidArgumentError(
        `the serializer could not encode a value (${why}, see the cause); nothing was written`,
        {
          cause: e,
        },
      );
    }
    const [type, bytes] = typed;
    return { type, bytes: typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes };
  }
}
