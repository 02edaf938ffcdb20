/**
 * Moving agent state between any two savers (`BaseCheckpointSaver`): this S3 checkpointer,
 * LangGraph's MemorySaver, SQLite or Postgres savers, another bucket or prefix. Only the saver
 * contract is used, so either side may be any saver.
 *
 * Every checkpoint of every namespace of a thread is written oldest first (parents before their
 * children) with its id, parent, metadata, channel versions and values, then its pending
 * writes, and read back to verify. A checkpoint already in the target is not written again, and
 * its pending writes are completed when some are missing: a migration that crashed halfway is
 * finished by running it again, and running it twice changes nothing.
 */

import type { RunnableConfig } from "@langchain/core/runnables";
import type {
  BaseCheckpointSaver,
  ChannelVersions,
  Checkpoint,
  CheckpointTuple,
  PendingWrite,
} from "@langchain/langgraph-checkpoint";
import { CheckpointCorruptedError, InvalidArgumentError } from "./errors.js";
import { VERSION_PATTERN } from "./record.js";

export interface MigrateOptions {
  from: BaseCheckpointSaver;
  to: BaseCheckpointSaver;
  /** Only these threads. @default every thread of `from` (its `list({})`) */
  threads?: Iterable<string> | AsyncIterable<string>;
  /** Called after each checkpoint. */
  onProgress?: (progress: MigrateProgress) => void;
}

export interface MigrateProgress {
  threadId: string;
  /** checkpoints of this thread handled so far, and in all */
  done: number;
  total: number;
}

export interface MigrateReport {
  threads: number;
  checkpoints: number;
  /** checkpoints written to the target */
  written: number;
  /** checkpoints the target had already (a resumed or repeated run) */
  alreadyThere: number;
  /** pending-write groups (one per task) written */
  writes: number;
}

export async function migrate(options: MigrateOptions): Promise<MigrateReport> {
  const { from, to, onProgress } = options;
  if (!from || typeof from.list !== "function" || !to || typeof to.put !== "function") {
    throw new InvalidArgumentError("migrate(): `from` and `to` must be checkpoint savers");
  }
  if (from === to) throw new InvalidArgumentError("migrate(): `from` and `to` are the same saver");
  const report: MigrateReport = { threads: 0, checkpoints: 0, written: 0, alreadyThere: 0, writes: 0 };
  for await (const threadId of options.threads ?? threadsOf(from)) {
    if (typeof threadId !== "string") throw new InvalidArgumentError("migrate(): thread ids must be strings");
    report.threads += 1;
    const tuples: CheckpointTuple[] = [];
    for await (const t of from.list({ configurable: { thread_id: threadId } })) tuples.push(t);
    await copyTuples(to, threadId, tuples, report, (done, total) => onProgress?.({ threadId, done, total }));
  }
  return report;
}

/**
 * Writes checkpoints of one thread into `to` under `threadId`, oldest first, each with its
 * pending writes, each read back to verify; what the target has already is not written again.
 * Also the import of a share (share.ts).
 */
export async function copyTuples(
  to: BaseCheckpointSaver,
  threadId: string,
  tuples: CheckpointTuple[],
  report: MigrateReport = { threads: 0, checkpoints: 0, written: 0, alreadyThere: 0, writes: 0 },
  onEach?: (done: number, total: number) => void,
): Promise<MigrateReport> {
  // oldest first: LangGraph's checkpoint ids grow with time, so parents come before children
  let sorted = [...tuples].sort((a, b) => compare(idOf(a.config), idOf(b.config)));
  if (countsInNumbers(to)) sorted = sorted.map((t) => ({ ...t, checkpoint: withNumberVersions(t.checkpoint) }));
  const byKey = new Map(sorted.map((t) => [`${nsOf(t.config)}\u0000${idOf(t.config)}`, t]));
  for (const [i, tuple] of sorted.entries()) {
    await copyOne(to, threadId, tuple, byKey, report);
    report.checkpoints += 1;
    onEach?.(i + 1, sorted.length);
  }
  return report;
}

async function* threadsOf(saver: BaseCheckpointSaver): AsyncGenerator<string> {
  const seen = new Set<string>();
  for await (const t of saver.list({})) {
    const id = t.config.configurable?.thread_id as string;
    if (!seen.has(id)) {
      seen.add(id);
      yield id;
    }
  }
}

/**
 * True for a saver whose channel versions are numbers: LangGraph's MemorySaver (and the base
 * class's `getNextVersion`) cannot continue from a string version, and throws.
 */
function countsInNumbers(saver: BaseCheckpointSaver): boolean {
  try {
    return typeof saver.getNextVersion(undefined) === "number";
  } catch {
    return false;
  }
}

/**
 * The checkpoint with this library's string versions as the numbers of their counters. Order
 * is kept: a counter grows along a chain of checkpoints, and a chain is what is copied here.
 */
function withNumberVersions(checkpoint: Checkpoint): Checkpoint {
  const number = (v: unknown) => {
    const m = typeof v === "string" ? VERSION_PATTERN.exec(v) : null;
    return m ? Number(m[1]) : v;
  };
  const map = (versions: Record<string, unknown> | undefined) =>
    versions && Object.fromEntries(Object.entries(versions).map(([k, v]) => [k, number(v)]));
  return {
    ...checkpoint,
    channel_versions: map(checkpoint.channel_versions) as ChannelVersions,
    versions_seen: Object.fromEntries(
      Object.entries(checkpoint.versions_seen ?? {}).map(([node, seen]) => [node, map(seen) as ChannelVersions]),
    ),
  };
}

const idOf = (c: RunnableConfig) => String(c.configurable?.checkpoint_id ?? "");
const nsOf = (c: RunnableConfig) => String(c.configurable?.checkpoint_ns ?? "");
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function copyOne(
  to: BaseCheckpointSaver,
  threadId: string,
  tuple: CheckpointTuple,
  byKey: Map<string, CheckpointTuple>,
  report: MigrateReport,
): Promise<void> {
  const ns = nsOf(tuple.config);
  const id = idOf(tuple.config);
  const at = { configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: id } };
  const existing = await to.getTuple(at);
  if (existing) {
    report.alreadyThere += 1;
  } else {
    const parentId = tuple.parentConfig?.configurable?.checkpoint_id as string | undefined;
    const parent = parentId ? byKey.get(`${ns}\u0000${parentId}`) : undefined;
    // the channels whose version changed since the parent: what LangGraph itself passes to put
    const versions = tuple.checkpoint.channel_versions ?? {};
    const before = parent?.checkpoint.channel_versions ?? {};
    const changed: ChannelVersions = {};
    for (const [channel, v] of Object.entries(versions))
      if (!Object.hasOwn(before, channel) || before[channel] !== v) changed[channel] = v;
    await to.put(
      { configurable: { thread_id: threadId, checkpoint_ns: ns, ...(parentId ? { checkpoint_id: parentId } : {}) } },
      tuple.checkpoint,
      tuple.metadata ?? { source: "update", step: -1, parents: {} },
      changed,
    );
    report.written += 1;
  }
  const have = existing?.pendingWrites?.length ?? 0;
  const want = tuple.pendingWrites ?? [];
  if (want.length > have) {
    // by task, in their order; regular writes keep the first stored, special ones replace: a
    // repeated call changes nothing
    const byTask = new Map<string, PendingWrite[]>();
    for (const [task, channel, value] of want) byTask.set(task, [...(byTask.get(task) ?? []), [channel, value]]);
    for (const [task, writes] of byTask) {
      await to.putWrites(at, writes, task);
      report.writes += 1;
    }
  }
  const back = await to.getTuple(at);
  if (!back || back.checkpoint.id !== tuple.checkpoint.id || (back.pendingWrites?.length ?? 0) < want.length) {
    throw new CheckpointCorruptedError(
      `migrate(): checkpoint ${id} of thread ${JSON.stringify(threadId)} did not read back whole from the target; run it again`,
    );
  }
}
