/**
 * `getDeltaChannelHistory` without d sequential `getTuple` calls: one listing of the namespace
 * from the target checkpoint on (⌈keys/1000⌉ pages), records read a growing batch at a time in
 * parallel, the parent chain walked in memory, then the on-path writes and seeds read in
 * parallel. Returns exactly what `BaseCheckpointSaver`'s walk returns.
 */

import type { CheckpointPendingWrite, DeltaChannelHistory } from "@langchain/langgraph-checkpoint";
import type { KeyLayout } from "./layout.js";
import { FIRST_PAGE_KEYS, type Group, type LoadedRecord, type TupleReader } from "./reader.js";
import { channelRef } from "./record.js";
import { isCurrent, type Lineage } from "./tombstone.js";

export async function deltaChannelHistory(
  reader: TupleReader,
  layout: KeyLayout,
  readConcurrency: number,
  at: { thread: string | undefined; ns: string; checkpointId: string | undefined },
  channels: string[],
  /** the thread's generation: a checkpoint hidden by a delete has no history to give */
  current: Promise<Lineage>,
): Promise<Record<string, DeltaChannelHistory>> {
  if (channels.length === 0) return {};
  const empty = () => Object.fromEntries(channels.map((c) => [c, { writes: [] }]));
  const { thread, ns } = at;
  if (thread === undefined) return empty();
  const place = { thread, ns };
  const targetId = at.checkpointId ?? (await latestCurrentId(reader, layout, place, current));
  if (!targetId) return empty();

  // Records of the target and everything older, read a growing batch at a time.
  const groups = new Map<string, Group>();
  const records = new Map<string, LoadedRecord | undefined>();
  const pages = reader.groups(layout.namespace(thread, ns), layout.fromCheckpoint(thread, ns, targetId));
  let exhausted = false;
  let pendingIds: string[] = [];
  let batch = readConcurrency * 2;
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
      const loaded = await Promise.all(take.map((i) => reader.readGroupRecord(groups.get(i)!, place)));
      take.forEach((i, n) => records.set(i, loaded[n]));
    }
    return records.get(id);
  };

  const found = await need(targetId);
  const target = found && isCurrent(found.head.lineage, await current) ? found : undefined;
  // on-path ancestors, newest first, with the channels still unresolved when each is reached
  const steps: {
    id: string;
    record: LoadedRecord;
    open: string[];
    seeds: string[];
    writes?: CheckpointPendingWrite[];
  }[] = [];
  const remaining = new Set(channels);
  let cursor = target?.head.parent_checkpoint_id;
  while (cursor !== undefined && remaining.size > 0) {
    const record = await need(cursor);
    if (!record) break;
    const open = [...remaining];
    const seeds = open.filter((c) => channelRef(record.head.channels, c) !== undefined);
    steps.push({ id: cursor, record, open, seeds });
    for (const c of seeds) remaining.delete(c);
    cursor = record.head.parent_checkpoint_id;
  }
  await pages.return(undefined);

  const seedValues: Record<string, unknown> = {};
  await Promise.all(
    steps.map(async (step) => {
      const [writes, values] = await Promise.all([
        reader.readGroupWrites(groups.get(step.id)),
        reader.channelValues(step.record, step.seeds),
      ]);
      Object.assign(seedValues, values);
      step.writes = writes;
    }),
  );
  // replay exactly as the base class walks: newest ancestor first, each one's writes in reverse
  const collected: Record<string, CheckpointPendingWrite[]> = Object.fromEntries(channels.map((c) => [c, []]));
  for (const step of steps) {
    const open = new Set(step.open);
    const writes = step.writes ?? [];
    for (let i = writes.length - 1; i >= 0; i -= 1)
      if (open.has(writes[i]![1])) collected[writes[i]![1]]!.push(writes[i]!);
  }
  const result: Record<string, DeltaChannelHistory> = {};
  for (const c of channels) {
    const entry: DeltaChannelHistory = { writes: collected[c]!.slice().reverse() };
    if (Object.prototype.hasOwnProperty.call(seedValues, c) && seedValues[c] !== undefined) entry.seed = seedValues[c];
    result[c] = entry;
  }
  return result;
}

/** The id of the newest checkpoint of the current generation (its record is then cached). */
async function latestCurrentId(
  reader: TupleReader,
  layout: KeyLayout,
  place: { thread: string; ns: string },
  current: Promise<Lineage>,
): Promise<string | undefined> {
  for await (const groups of reader.groups(layout.namespace(place.thread, place.ns), undefined, FIRST_PAGE_KEYS)) {
    for (const g of groups) {
      if (!g.recordKey) continue;
      const [record, lineage] = await Promise.all([reader.readGroupRecord(g, place), current]);
      if (record && isCurrent(record.head.lineage, lineage)) return g.checkpointId;
    }
  }
  return undefined;
}
