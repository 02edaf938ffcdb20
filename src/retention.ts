/**
 * Retention: `prune` removes old checkpoints of a live thread, `sweep` deletes whole threads
 * that have been idle for long.
 *
 * What prune keeps, per namespace (each subgraph's chain is pruned on its own):
 *
 * - the newest checkpoint, always, and every checkpoint the options keep (`keepLast`, `olderThan`:
 *   a checkpoint goes only when every given option lets it go);
 * - everything a kept checkpoint needs to read as it did: the record that holds a value it
 *   refers to (`at: "record"`), the channel-value objects under `b/` it refers to (keyed by
 *   channel and version, shared between checkpoints), its pending writes, and, for format < 4
 *   checkpoints, its parent (whose writes hold its pending sends);
 * - the ancestors a `DeltaChannel` replay walks through. A channel with a version but no stored
 *   value in a kept checkpoint is rebuilt by `getDeltaChannelHistory`: it walks the parent chain
 *   to the nearest ancestor that stores a value (the seed) and replays the ancestors' writes.
 *   The saver cannot tell a delta channel from an empty one (a consumed `__start__` looks the
 *   same), so it looks at what the walk would return: when some ancestor on the walk wrote to
 *   the channel, or the seed has the very version the kept checkpoint has (a delta snapshot
 *   with no writes since), every ancestor on the walk is kept, seed included. Otherwise the walk
 *   returns nothing the checkpoint needs (an empty channel's version moved on when it was
 *   cleared), and those ancestors may go. Kept ancestors are kept whole, and what they need is
 *   kept in turn.
 *
 * Hidden records (of an older generation, or a late writer's after a delete: tombstone.ts) are
 * neither counted nor removed, and what they refer to stays.
 *
 * Crash safety: records go first, then the writes of the removed checkpoints, then the values
 * only they referred to. An interrupted prune leaves every kept checkpoint readable (it never
 * refers to anything removed); what it left behind (writes without a record, values no record
 * refers to) is removed by the next run, values once they are `orphanGraceMs` old (a `put` in
 * flight writes its values before its record, and must not lose them).
 */

import type { SerializerProtocol } from "@langchain/langgraph-checkpoint";
import type { ObjectCache } from "./cache.js";
import { InvalidArgumentError, S3RequestError } from "./errors.js";
import { decodeComponent, type KeyLayout } from "./layout.js";
import type { Logger } from "./logger.js";
import type { TupleReader } from "./reader.js";
import { channelRef, unpack, type RecordHead, type WritesHead } from "./record.js";
import type { S3Store } from "./store.js";
import { isCurrent, type Tombstones } from "./tombstone.js";

/**
 * The default of `PruneOptions.orphanGraceMs`: a channel-value object no record refers to is
 * removed only once it is this old; younger ones may belong to a `put` whose record is still on
 * its way.
 */
export const ORPHAN_GRACE_MS = 15 * 60_000;
/** Analyses a prune makes at most when records keep appearing while it works. */
export const PRUNE_MAX_ROUNDS = 3;

/** Options of {@link S3Checkpointer.prune}. At least one of `keepLast` and `olderThan`. */
export interface PruneOptions {
  /** Keep the newest this many checkpoints of each namespace (at least 1; the newest is always kept). */
  keepLast?: number;
  /** Remove only checkpoints older than this: a date, or an age in milliseconds. */
  olderThan?: Date | number;
  /**
   * A channel-value object no record refers to (left by an interrupted prune or a failed `put`)
   * is removed once it is this old; younger ones may belong to a `put` still on its way. Set
   * it to 0 only when nothing writes to the thread meanwhile. @default 900000 (15 minutes)
   */
  orphanGraceMs?: number;
  /** Count what would go, remove nothing. @default false */
  dryRun?: boolean;
}

/** What a prune removed (or, with `dryRun`, would remove). */
export interface PruneReport {
  threadId: string;
  /** checkpoints of the thread's current generation found, over all namespaces */
  checkpoints: number;
  /** checkpoints kept */
  kept: number;
  /** of the kept, those the options let go that a kept checkpoint needs (shared values, delta history) */
  keptAsNeeded: number;
  /** checkpoint records removed */
  removed: number;
  /** writes objects removed (of removed checkpoints, or left by an interrupted run) */
  writesRemoved: number;
  /** channel-value objects removed */
  blobsRemoved: number;
  dryRun: boolean;
}

/** Options of {@link S3Checkpointer.sweep}. */
export interface SweepOptions {
  /** Threads with no write for this many milliseconds are deleted. */
  idleFor: number;
  /** `"soft"`: `deleteThread` (restorable on a versioned bucket); `"purge"`: `purgeThread`. @default "soft" */
  mode?: "soft" | "purge";
  /** List the idle threads, delete nothing. @default false */
  dryRun?: boolean;
  /** Called after each idle thread is handled. */
  onProgress?: (progress: { done: number; total: number; threadId: string }) => void;
}

/** What a sweep did. */
export interface SweepReport {
  /** threads looked at */
  threads: number;
  /** the idle ones (deleted or purged unless `dryRun`) */
  idle: string[];
  mode: "soft" | "purge";
  dryRun: boolean;
}

export interface RetentionDeps {
  store: S3Store;
  layout: KeyLayout;
  reader: TupleReader;
  cache: ObjectCache;
  tombs: Tombstones;
  serde: () => SerializerProtocol;
  logger: Logger;
}

/** One checkpoint as prune sees it. */
interface Node {
  /** `{ns component}/{id}` */
  id: string;
  ns: string;
  checkpointId: string;
  key: string;
  head: RecordHead;
  versions: Record<string, string | number>;
  /** the checkpoint's `ts`, in ms; `undefined` when it has none */
  ts: number | undefined;
  v: number;
  current: boolean;
}

interface Listing {
  records: Map<string, { key: string; ns: string; checkpointId: string }>;
  writes: Map<string, string[]>;
  blobs: Map<string, Date | undefined>;
}

const nodeId = (ns: string, checkpointId: string) => `${ns}/${checkpointId}`;

/** Checks prune's options; throws {@link InvalidArgumentError} naming the bad one. */
export function checkPruneOptions(options: PruneOptions): void {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("prune(): options must be an object");
  const { keepLast, olderThan, dryRun, orphanGraceMs } = options;
  if (keepLast === undefined && olderThan === undefined) {
    throw new InvalidArgumentError("prune(): pass keepLast, olderThan or both (nothing says what to remove)");
  }
  if (keepLast !== undefined && (!Number.isSafeInteger(keepLast) || keepLast < 1)) {
    throw new InvalidArgumentError(
      `prune(): keepLast must be a whole number of at least 1 (the newest checkpoint is always kept); got ${String(keepLast)}`,
    );
  }
  if (olderThan !== undefined) {
    const ok =
      olderThan instanceof Date
        ? Number.isFinite(olderThan.getTime())
        : typeof olderThan === "number" && Number.isFinite(olderThan) && olderThan >= 0;
    if (!ok)
      throw new InvalidArgumentError(
        "prune(): olderThan must be a valid Date or an age in milliseconds (a number of at least 0)",
      );
  }
  if (
    orphanGraceMs !== undefined &&
    (typeof orphanGraceMs !== "number" || !Number.isFinite(orphanGraceMs) || orphanGraceMs < 0)
  ) {
    throw new InvalidArgumentError(
      `prune(): orphanGraceMs must be a number of milliseconds of at least 0; got ${String(orphanGraceMs)}`,
    );
  }
  if (dryRun !== undefined && typeof dryRun !== "boolean")
    throw new InvalidArgumentError("prune(): dryRun must be a boolean");
}

/** Checks sweep's options; throws {@link InvalidArgumentError} naming the bad one. */
export function checkSweepOptions(options: SweepOptions): void {
  if (options === null || typeof options !== "object")
    throw new InvalidArgumentError("sweep(): options must be an object");
  const { idleFor, mode, dryRun } = options;
  if (typeof idleFor !== "number" || !Number.isFinite(idleFor) || idleFor <= 0) {
    throw new InvalidArgumentError(`sweep(): idleFor must be a number of milliseconds above 0; got ${String(idleFor)}`);
  }
  if (mode !== undefined && mode !== "soft" && mode !== "purge")
    throw new InvalidArgumentError(`sweep(): mode must be "soft" or "purge"; got ${String(mode)}`);
  if (dryRun !== undefined && typeof dryRun !== "boolean")
    throw new InvalidArgumentError("sweep(): dryRun must be a boolean");
}

/** Lists every current object of a thread, sorted into records, writes (by checkpoint) and values. */
async function listThread(deps: RetentionDeps, prefix: string): Promise<Listing> {
  const listing: Listing = { records: new Map(), writes: new Map(), blobs: new Map() };
  for await (const { objects } of deps.store.list(prefix)) {
    for (const o of objects) {
      const parsed = deps.layout.parse(o.key);
      if (!parsed) continue;
      if (parsed.kind === "blob") {
        listing.blobs.set(o.key, o.lastModified);
        continue;
      }
      const id = nodeId(parsed.ns, parsed.checkpointId);
      if (parsed.kind === "record")
        listing.records.set(id, { key: o.key, ns: parsed.ns, checkpointId: parsed.checkpointId });
      else listing.writes.set(id, [...(listing.writes.get(id) ?? []), o.key]);
    }
  }
  return listing;
}

/** Removes old checkpoints of one thread; see the module comment for what stays. */
export async function pruneThread(
  deps: RetentionDeps,
  threadId: string,
  options: PruneOptions,
  now = Date.now(),
): Promise<PruneReport> {
  const { store, layout, cache } = deps;
  const prefix = layout.thread(threadId);
  const cutoff =
    options.olderThan === undefined
      ? undefined
      : options.olderThan instanceof Date
        ? options.olderThan.getTime()
        : now - options.olderThan;
  const dryRun = options.dryRun ?? false;
  const nodes = new Map<string, Node>();
  let listing = await listThread(deps, prefix);
  const grace = options.orphanGraceMs ?? ORPHAN_GRACE_MS;
  const analyseNow = () => analyse(deps, threadId, listing, nodes, { keepLast: options.keepLast, cutoff, now, grace });
  let plan = await analyseNow();
  // records written while the analysis ran (a fork of an old checkpoint, say) may need what it
  // would remove: analyse again until the thread holds still
  for (let round = 1; !dryRun && plan.removeRecords.length > 0 && round < PRUNE_MAX_ROUNDS; round += 1) {
    const again = await listThread(deps, prefix);
    if ([...again.records.keys()].every((id) => listing.records.has(id))) break;
    listing = again;
    plan = await analyseNow();
  }
  const report: PruneReport = {
    threadId,
    checkpoints: plan.current,
    kept: plan.current - plan.removeRecords.length,
    keptAsNeeded: plan.keptAsNeeded,
    removed: plan.removeRecords.length,
    writesRemoved: plan.removeWrites.length,
    blobsRemoved: plan.removeBlobs.length,
    dryRun,
  };
  if (dryRun) return report;
  try {
    // records first: a record never refers to anything removed before it
    for (const [what, keys] of [
      ["checkpoint records", plan.removeRecords],
      ["writes objects", plan.removeWrites],
      ["channel values", plan.removeBlobs],
    ] as const) {
      const failed = await store.deleteMany(keys.map((Key) => ({ Key })));
      if (failed.length > 0) {
        throw new S3RequestError(
          `prune(): ${failed.length} ${what} of thread ${JSON.stringify(threadId)} could not be deleted (first: ${failed[0]!.code}); every kept checkpoint still reads; run it again`,
        );
      }
    }
  } finally {
    cache.forgetPrefix(prefix);
  }
  deps.logger.info({ ...report }, "pruned thread");
  return report;
}

interface Plan {
  current: number;
  keptAsNeeded: number;
  removeRecords: string[];
  removeWrites: string[];
  removeBlobs: string[];
}

async function analyse(
  deps: RetentionDeps,
  threadId: string,
  listing: Listing,
  nodes: Map<string, Node>,
  rules: { keepLast: number | undefined; cutoff: number | undefined; now: number; grace: number },
): Promise<Plan> {
  const { keepLast, cutoff, now, grace } = rules;
  const { reader, layout } = deps;
  const serde = deps.serde();
  const lineage = await deps.tombs.current(threadId);
  await Promise.all(
    [...listing.records].map(async ([id, r]) => {
      if (nodes.has(id)) return;
      const ns = decodeComponent(r.ns);
      const record = await reader.readRecord(r.key, ns === undefined ? { thread: threadId } : { thread: threadId, ns });
      if (!record) return; // deleted meanwhile
      const checkpoint = (await serde.loadsTyped(
        record.head.checkpoint.type,
        record.sections[record.head.checkpoint.s]!,
      )) as {
        ts?: string;
        v?: number;
        channel_versions?: Record<string, string | number>;
      };
      const ts = checkpoint.ts === undefined ? Number.NaN : Date.parse(checkpoint.ts);
      nodes.set(id, {
        id,
        ns: r.ns,
        checkpointId: r.checkpointId,
        key: r.key,
        head: record.head,
        versions: checkpoint.channel_versions ?? {},
        ts: Number.isFinite(ts) ? ts : undefined,
        v: checkpoint.v ?? 4,
        current: isCurrent(record.head.lineage, lineage),
      });
    }),
  );
  for (const id of nodes.keys()) if (!listing.records.has(id)) nodes.delete(id);

  // the options' verdict, namespace by namespace, newest first
  const byNs = new Map<string, Node[]>();
  for (const n of nodes.values()) if (n.current) byNs.set(n.ns, [...(byNs.get(n.ns) ?? []), n]);
  const candidates = new Set<string>();
  let current = 0;
  for (const list of byNs.values()) {
    list.sort((a, b) => (a.checkpointId < b.checkpointId ? 1 : a.checkpointId > b.checkpointId ? -1 : 0));
    current += list.length;
    list.forEach((n, rank) => {
      if (rank === 0) return;
      if (keepLast !== undefined && rank < keepLast) return;
      // a checkpoint without a time is kept by olderThan: its age is unknown
      if (cutoff !== undefined && (n.ts === undefined || n.ts >= cutoff)) return;
      candidates.add(n.id);
    });
  }

  // what the kept checkpoints need, to a fixpoint
  const written = new Map<string, Promise<Set<string>>>();
  const channelsWritten = (n: Node) => {
    let p = written.get(n.id);
    if (!p) {
      p = writtenChannels(reader, listing.writes.get(n.id) ?? []);
      written.set(n.id, p);
    }
    return p;
  };
  const needed = new Set<string>();
  const visited = new Set<string>();
  const queue = [...nodes.values()].filter((n) => n.current && !candidates.has(n.id));
  const keep = (n: Node | undefined) => {
    if (!n || !candidates.has(n.id) || needed.has(n.id)) return;
    needed.add(n.id);
    queue.push(n);
  };
  while (queue.length > 0) {
    const n = queue.pop()!;
    if (visited.has(n.id)) continue;
    visited.add(n.id);
    const sibling = (checkpointId: string | undefined) =>
      checkpointId === undefined ? undefined : nodes.get(nodeId(n.ns, checkpointId));
    for (const c of Object.keys(n.head.channels)) {
      const ref = channelRef(n.head.channels, c)!;
      if (ref.at === "record") keep(sibling(ref.id));
    }
    if (n.v < 4) keep(sibling(n.head.parent_checkpoint_id));
    for (const ancestor of await deltaWalk(n, sibling, channelsWritten)) keep(ancestor);
  }

  const removeIds = [...candidates].filter((id) => !needed.has(id));
  const removed = new Set(removeIds);
  // values: those only removed records referred to, and orphans past their grace time
  const blobOf = (n: Node, channel: string, version: string | number) =>
    layout.blob(threadId, n.head.checkpoint_ns, channel, version);
  const protectedBlobs = new Set<string>();
  const freed = new Set<string>();
  for (const n of nodes.values()) {
    const into = removed.has(n.id) ? freed : protectedBlobs;
    for (const c of Object.keys(n.head.channels)) {
      const ref = channelRef(n.head.channels, c)!;
      if (ref.at === "blob") into.add(blobOf(n, c, ref.v));
    }
  }
  const removeBlobs = [...listing.blobs].filter(
    ([key, at]) => !protectedBlobs.has(key) && (freed.has(key) || (at !== undefined && now - at.getTime() >= grace)),
  );
  // writes: of removed checkpoints, and writes whose record is gone that are older than the
  // namespace's newest checkpoint (an interrupted prune's)
  const newestOf = new Map([...byNs].map(([ns, list]) => [ns, list[0]!.checkpointId]));
  const removeWrites: string[] = [];
  for (const [id, keys] of listing.writes) {
    const [ns, checkpointId] = [id.slice(0, id.lastIndexOf("/")), id.slice(id.lastIndexOf("/") + 1)];
    const newest = newestOf.get(ns);
    const orphan = !listing.records.has(id) && newest !== undefined && checkpointId < newest;
    if (removed.has(id) || orphan) removeWrites.push(...keys);
  }
  return {
    current,
    keptAsNeeded: needed.size,
    removeRecords: removeIds.map((id) => nodes.get(id)!.key),
    removeWrites,
    removeBlobs: removeBlobs.map(([key]) => key),
  };
}

/**
 * The ancestors a delta replay from `n` needs (module comment): for each channel with a version
 * and no stored value, the walk to its seed, when an ancestor on it wrote to the channel or the
 * seed holds the very version `n` has.
 */
async function deltaWalk(
  n: Node,
  sibling: (checkpointId: string | undefined) => Node | undefined,
  channelsWritten: (n: Node) => Promise<Set<string>>,
): Promise<Node[]> {
  const open = Object.keys(n.versions).filter((c) => channelRef(n.head.channels, c) === undefined);
  if (open.length === 0) return [];
  const path: Node[] = [];
  const seedAt = new Map<string, number>();
  let cursor = sibling(n.head.parent_checkpoint_id);
  while (cursor && seedAt.size < open.length) {
    path.push(cursor);
    for (const c of open)
      if (!seedAt.has(c) && channelRef(cursor.head.channels, c) !== undefined) seedAt.set(c, path.length - 1);
    cursor = sibling(cursor.head.parent_checkpoint_id);
  }
  let needUpTo = -1;
  for (const c of open) {
    const end = seedAt.get(c) ?? path.length - 1;
    if (end <= needUpTo) continue;
    const seed = seedAt.has(c) ? path[end]! : undefined;
    let need = seed !== undefined && String(seed.versions[c]) === String(n.versions[c]);
    for (let i = 0; !need && i <= end; i += 1) need = (await channelsWritten(path[i]!)).has(c);
    if (need) needUpTo = end;
  }
  return path.slice(0, needUpTo + 1);
}

/** The channels a checkpoint's writes objects write to (their heads only; values stay undecoded). */
async function writtenChannels(reader: TupleReader, keys: string[]): Promise<Set<string>> {
  const channels = new Set<string>();
  await Promise.all(
    keys.map(async (key) => {
      const object = await reader.readObject(key, { cacheable: key.endsWith("/r") });
      if (!object) return;
      for (const w of unpack<WritesHead>(object.plaintext, "writes", key).head.writes) channels.add(w.channel);
    }),
  );
  return channels;
}
