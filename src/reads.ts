/**
 * Reading tuples for `getTuple` and `list`: which listing to make for a config, the thread's
 * generation read beside it (tombstone.ts), the records and writes of each listed group read in
 * parallel (reader.ts), and reads from history by `s3_version_id`.
 */

import type { RunnableConfig } from "@langchain/core/runnables";
import type { CheckpointListOptions, CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { checkpointIdOf, namespaceOf, optionalThread, versionIdOf } from "./config.js";
import { InvalidArgumentError } from "./errors.js";
import { assertCheckpointId, decodeComponent, encodeComponent, type KeyLayout } from "./layout.js";
import { FIRST_PAGE_KEYS, type Group, type Place, type TupleReader } from "./reader.js";
import { MAX_LIST_KEYS, type S3Store } from "./store.js";
import { isCurrent, type Lineage, type Tombstones } from "./tombstone.js";
import { findRecordVersion } from "./versions.js";

/** Keys a `list({ limit })` first asks for per checkpoint wanted: its record and some writes. */
const KEYS_PER_CHECKPOINT = 10;

export interface TupleReadsDeps {
  store: S3Store;
  layout: KeyLayout;
  reader: TupleReader;
  tombs: Tombstones;
  /** whether tuples carry the S3 version id of their record (option `versioning` is not "off") */
  versionIds: boolean;
  /** throws VersioningUnavailableError unless the bucket has versions */
  requireVersioning: (what: string) => Promise<void>;
}

export class TupleReads {
  private readonly store: S3Store;
  private readonly layout: KeyLayout;
  private readonly reader: TupleReader;
  private readonly tombs: Tombstones;
  private readonly versionIds: boolean;
  private readonly requireVersioning: (what: string) => Promise<void>;

  constructor(deps: TupleReadsDeps) {
    this.store = deps.store;
    this.layout = deps.layout;
    this.reader = deps.reader;
    this.tombs = deps.tombs;
    this.versionIds = deps.versionIds;
    this.requireVersioning = deps.requireVersioning;
  }

  /**
   * The checkpoint `config` names: by `checkpoint_id`, by `s3_version_id` (exactly that stored
   * version, also after the thread was deleted), or the latest of the thread and namespace.
   */
  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const thread = optionalThread(config);
    if (thread === undefined) return undefined;
    const ns = namespaceOf(config) ?? "";
    const place = { thread, ns };
    const checkpointId = checkpointIdOf(config);
    const versionId = versionIdOf(config);
    if (versionId) return this.tupleAtVersion(thread, namespaceOf(config), checkpointId, versionId);
    // the thread's generation (tombstone.ts) is read beside everything else: no extra round trip
    const current = this.tombs.current(thread);
    if (checkpointId) {
      // the record (often cached) and the listing of its writes go out together; the listing
      // also says whether the record is still there (another process may have deleted it).
      // Where the first version of a key wins, the listing names the version to read: then
      // the record is read after it.
      const key = this.layout.record(thread, ns, checkpointId);
      const early = this.reader.pinsVersions() ? undefined : this.reader.readRecord(key, place);
      early?.catch(() => undefined); // awaited below
      const [lineage, group] = await Promise.all([
        current,
        this.reader.firstGroup(this.layout.checkpoint(thread, ns, checkpointId)),
      ]);
      if (group?.recordKey === undefined) return undefined;
      const [record, writes] = await Promise.all([
        early ?? this.reader.readGroupRecord(group, place),
        this.reader.readGroupWrites(group),
      ]);
      if (!record || !isCurrent(record.head.lineage, lineage)) return undefined;
      return this.reader.assemble(record, writes, this.versionIds);
    }
    current.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
    // newest first: records hidden by a delete (a late writer's) are passed over
    for await (const groups of this.reader.groups(this.layout.namespace(thread, ns), undefined, FIRST_PAGE_KEYS)) {
      for (const group of groups) {
        if (!group.recordKey) continue;
        const tuple = await this.loadGroup(group, place, current);
        if (tuple) return tuple;
      }
    }
    return undefined;
  }

  /** `list()`: newest first, filtered, limited, `before` as a StartAfter. */
  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    if (config === null || typeof config !== "object") {
      throw new InvalidArgumentError(
        "list(): config must be a RunnableConfig, e.g. { configurable: { thread_id } } (or {} for every thread)",
      );
    }
    if (options === null || typeof options !== "object")
      throw new InvalidArgumentError("list(): options must be an object");
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
      (nsKey === undefined || g.ns === nsKey) &&
      (!onlyId || g.checkpointId === onlyId) &&
      (!beforeId || g.checkpointId < beforeId);
    // each thread's generation (tombstone.ts), read once per call, beside the listing
    const generations = new Map<string, Promise<Lineage>>();
    const generation = (threadComponent: string) => {
      let p = generations.get(threadComponent);
      if (!p) {
        p = this.tombs.currentOf(threadComponent);
        p.catch(() => undefined); // awaited where it is used
        generations.set(threadComponent, p);
      }
      return p;
    };
    if (thread !== undefined) generation(encodeComponent(thread));
    // a first page sized to the limit (every later page as large as S3 allows): a store answers
    // a short page faster, and version listings (immutability.ts) much faster on Ceph RGW
    const firstPage =
      remaining === undefined || filter
        ? undefined
        : Math.min(MAX_LIST_KEYS, Math.max(FIRST_PAGE_KEYS, remaining * KEYS_PER_CHECKPOINT));
    for await (const groups of this.reader.groups(prefix, startAfter, firstPage)) {
      let candidates = groups.filter((g) => g.recordKey && keep(g));
      while (candidates.length > 0) {
        // without a filter only as many as still wanted are read (more when some were hidden)
        const batch = filter || remaining === undefined ? candidates : candidates.slice(0, remaining);
        candidates = candidates.slice(batch.length);
        const tuples = await Promise.all(
          batch.map((g) =>
            this.loadGroup(
              g,
              { thread: thread ?? decodeComponent(g.thread), ns: ns ?? decodeComponent(g.ns) },
              generation(g.thread),
            ),
          ),
        );
        for (const tuple of tuples) {
          if (!tuple) continue;
          if (
            filter &&
            !Object.entries(filter).every(
              ([k, v]) => (tuple.metadata as Record<string, unknown> | undefined)?.[k] === v,
            )
          )
            continue;
          yield tuple;
          if (remaining !== undefined && --remaining <= 0) return;
        }
      }
    }
  }

  /** The tuple of a listed group; `undefined` when its record is gone or not of the current generation. */
  private async loadGroup(
    group: Group,
    place: { thread?: string; ns?: string },
    current: Promise<Lineage>,
  ): Promise<CheckpointTuple | undefined> {
    const [lineage, record, writes] = await Promise.all([
      current,
      this.reader.readGroupRecord(group, place),
      this.reader.readGroupWrites(group),
    ]);
    return record && isCurrent(record.head.lineage, lineage)
      ? this.reader.assemble(record, writes, this.versionIds)
      : undefined;
  }

  /** A tuple from history: the record version `versionId`, its parts as they were last stored. */
  private async tupleAtVersion(
    thread: string,
    ns: string | undefined,
    checkpointId: string | undefined,
    versionId: string,
  ): Promise<CheckpointTuple | undefined> {
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
}
