/**
 * Retention against the real server: prune never breaks a kept checkpoint (every kept one reads
 * as before through getTuple, list and a graph's state, DeltaChannel history included, and a
 * graph continues), keeps the pending writes of kept checkpoints, is a no-op when run again and
 * leaves a readable thread when interrupted; sweep deletes idle threads softly or for good.
 */
import { randomUUID } from "node:crypto";
import {
  Annotation,
  Command,
  DeltaChannel,
  END,
  START,
  StateGraph,
  type BaseCheckpointSaver,
} from "@langchain/langgraph";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { CheckpointCorruptedError, InvalidArgumentError, S3Checkpointer } from "../../src/index.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";
import { approvalGraph } from "../helpers/graphs.js";
import { allVersions, bucketsForFile, describeWithVersioning, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("ret", client);
// a low inline threshold: most values are objects of their own, shared between checkpoints
const saverIn = (bucket: string) =>
  new S3Checkpointer({ bucket, client, prefix: `ret/${randomUUID()}/`, inlineThresholdBytes: 64 });

const BIG = "unchanged ".repeat(50);

/** A loop with a large channel that never changes, a counter, and a DeltaChannel that snapshots every 3 updates. */
function loopGraph(saver: BaseCheckpointSaver) {
  const State = Annotation.Root({
    big: Annotation<string>({ reducer: (_a, b) => b, default: () => "" }),
    i: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
    events: new DeltaChannel<string[], string>((state, writes) => [...(state ?? []), ...writes], {
      snapshotFrequency: 3,
      initialValueFactory: () => [],
    }) as never,
  });
  return new StateGraph(State)
    .addNode("tick", ((s: { i: number }) => ({ i: s.i + 1, events: `e${s.i}` })) as never)
    .addEdge(START, "tick")
    .addConditionalEdges("tick" as never, ((s: { i: number }) => (s.i % 10 === 0 ? END : "tick")) as never)
    .compile({ checkpointer: saver });
}

const all = async (saver: BaseCheckpointSaver, threadId: string) => {
  const out: CheckpointTuple[] = [];
  for await (const t of saver.list({ configurable: { thread_id: threadId } })) out.push(t);
  return out;
};
const idOf = (t: CheckpointTuple) => t.config.configurable!.checkpoint_id as string;
const comparable = (t: CheckpointTuple) => ({
  checkpoint: t.checkpoint,
  metadata: t.metadata,
  pendingWrites: t.pendingWrites,
  parent: t.parentConfig,
});

describe("prune", () => {
  it("keeps the newest checkpoints and everything they read; a second run removes nothing; the graph continues", async () => {
    const saver = saverIn(buckets.unversioned);
    const graph = loopGraph(saver);
    const config = { configurable: { thread_id: "loop" } };
    await graph.invoke({ big: BIG, i: 0 }, config);
    await graph.invoke({ i: 10 }, config);
    const before = await all(saver, "loop");
    const states = new Map<string, unknown>();
    for (const t of before) states.set(idOf(t), (await graph.getState(t.config)).values);
    expect(before.length).toBeGreaterThan(20);

    const report = await saver.prune("loop", { keepLast: 4 });
    expect(report).toMatchObject({ threadId: "loop", checkpoints: before.length, dryRun: false });
    expect(report.removed).toBeGreaterThan(10);
    expect(report.kept).toBe(before.length - report.removed);
    expect(report.kept).toBeGreaterThanOrEqual(4);
    // the newest checkpoints of the DeltaChannel's walk back to its last snapshot stay too
    expect(report.keptAsNeeded).toBeGreaterThan(0);
    expect(report.writesRemoved).toBeGreaterThan(0);

    const after = await all(saver, "loop");
    expect(after.map(idOf)).toEqual(before.slice(0, report.kept).map(idOf));
    for (const t of after) {
      const old = before.find((b) => idOf(b) === idOf(t))!;
      expect(comparable(t)).toEqual(comparable(old));
      expect(comparable((await saver.getTuple(t.config))!)).toEqual(comparable(old));
      // the graph's view, DeltaChannel rebuilt from the kept history
      expect((await graph.getState(t.config)).values).toEqual(states.get(idOf(t)));
    }
    // the unchanged large channel is still shared by the kept checkpoints
    expect(after[0]!.checkpoint.channel_values.big).toBe(BIG);

    const again = await saver.prune("loop", { keepLast: 4 });
    expect(again).toMatchObject({ removed: 0, writesRemoved: 0, blobsRemoved: 0, kept: report.kept });

    const next = await loopGraph(saver).invoke({ i: 20 }, config);
    expect(next.i).toBe(30);
    expect(next.events).toEqual(Array.from({ length: 30 }, (_, k) => `e${k}`));
    expect(next.big).toBe(BIG);
  });

  it("keeps the pending writes of kept checkpoints: an interrupted run resumes after a prune", async () => {
    const saver = saverIn(buckets.unversioned);
    const graph = approvalGraph(saver);
    const config = { configurable: { thread_id: "ask" } };
    await graph.invoke({ log: ["first"] }, config);
    await graph.invoke(new Command({ resume: "yes" }), config);
    await graph.invoke({ log: ["second"] }, config);
    const newest = (await saver.getTuple(config))!;
    expect(newest.pendingWrites!.length).toBeGreaterThan(0);

    const report = await saver.prune("ask", { keepLast: 1 });
    expect(report.removed).toBeGreaterThan(0);
    const kept = await all(saver, "ask");
    expect(kept.length).toBe(report.kept);
    expect(comparable(kept[0]!)).toEqual(comparable(newest));
    const done = await graph.invoke(new Command({ resume: "again" }), config);
    expect(done.log).toEqual([
      "first",
      "planned",
      "approved: yes",
      "acted after 3",
      "second",
      "planned",
      "approved: again",
      "acted after 7",
    ]);
  });

  it("olderThan with keepLast: a checkpoint goes only when both let it go; dry runs remove nothing; bad options are typed errors", async () => {
    const saver = saverIn(buckets.unversioned);
    const day = 24 * 3600_000;
    let parent: string | undefined;
    const ids: string[] = [];
    for (const [n, age] of [10, 9, 8, 2, 1].entries()) {
      const c = { ...checkpointOf({ n }, n + 1), ts: new Date(Date.now() - age * day).toISOString() };
      const config = await saver.put(
        { configurable: { thread_id: "aged", checkpoint_ns: "", ...(parent ? { checkpoint_id: parent } : {}) } },
        c,
        meta,
        { n: n + 1 },
      );
      await saver.putWrites(config, [["n", n]], `task-${n}`);
      parent = c.id;
      ids.push(c.id);
    }
    const dry = await saver.prune("aged", { olderThan: 5 * day, dryRun: true });
    expect(dry).toMatchObject({ removed: 3, dryRun: true });
    expect((await all(saver, "aged")).length).toBe(5);
    // keepLast 4 keeps the 10-day-old one's successor: only the oldest goes
    expect(await saver.prune("aged", { olderThan: new Date(Date.now() - 5 * day), keepLast: 4 })).toMatchObject({
      removed: 1,
      writesRemoved: 1,
    });
    expect(await saver.prune("aged", { olderThan: 5 * day })).toMatchObject({ removed: 2, kept: 2 });
    const left = await all(saver, "aged");
    expect(left.map(idOf)).toEqual([ids[4], ids[3]]);
    expect(left[1]!.pendingWrites).toEqual([["task-3", "n", 3]]);
    // the newest stays whatever the options say
    expect(await saver.prune("aged", { olderThan: 0, keepLast: 1 })).toMatchObject({ removed: 1, kept: 1 });

    // a corrupt record stops a prune before anything is deleted
    await saver.put(
      { configurable: { thread_id: "aged", checkpoint_ns: "", checkpoint_id: ids[4] } },
      checkpointOf({ n: 9 }, 9),
      meta,
      { n: 9 },
    );
    const oldest = (await all(saver, "aged")).at(-1)!;
    await client.send(
      new PutObjectCommand({
        Bucket: buckets.unversioned,
        Key: saver.layout.record("aged", "", idOf(oldest)),
        Body: "garbage",
      }),
    );
    // (another process: this one has the record cached, as it was)
    const other = new S3Checkpointer({
      bucket: buckets.unversioned,
      client,
      prefix: saver.layout.prefix,
      inlineThresholdBytes: 64,
    });
    await expect(other.prune("aged", { keepLast: 1, orphanGraceMs: 0 })).rejects.toBeInstanceOf(
      CheckpointCorruptedError,
    );
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: buckets.unversioned, Prefix: saver.layout.thread("aged") }),
    );
    expect(listed.KeyCount).toBeGreaterThanOrEqual(3);

    for (const bad of [
      {},
      { keepLast: 0 },
      { keepLast: 1.5 },
      { olderThan: Number.NaN },
      { olderThan: new Date("x") },
      { keepLast: 2, orphanGraceMs: -1 },
    ]) {
      await expect(saver.prune("aged", bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(saver.sweep({ idleFor: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(saver.sweep({ idleFor: 1000, mode: "hard" as never })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it("interrupted after the records went: every kept checkpoint reads, and the next run removes what was left", async () => {
    const saver = saverIn(buckets.unversioned);
    const graph = loopGraph(saver);
    const config = { configurable: { thread_id: "crash" } };
    await graph.invoke({ big: `${BIG}!`, i: 0 }, config);
    const before = await all(saver, "crash");
    const deleteMany = saver.store.deleteMany.bind(saver.store);
    let calls = 0;
    saver.store.deleteMany = async (objects) => {
      calls += 1;
      if (calls > 1) throw new Error("injected crash after the records batch");
      return deleteMany(objects);
    };
    await expect(saver.prune("crash", { keepLast: 3 })).rejects.toThrow(/injected crash/);
    saver.store.deleteMany = deleteMany;
    const kept = await all(saver, "crash");
    expect(kept.length).toBeLessThan(before.length);
    for (const t of kept) {
      expect(comparable((await saver.getTuple(t.config))!)).toEqual(
        comparable(before.find((b) => idOf(b) === idOf(t))!),
      );
      await graph.getState(t.config);
    }
    // writes whose record is gone go at once; values no record refers to once their grace time is over
    const resumed = await saver.prune("crash", { keepLast: 3, orphanGraceMs: 0 });
    expect(resumed.removed).toBe(0);
    expect(resumed.writesRemoved).toBeGreaterThan(0);
    expect(await saver.prune("crash", { keepLast: 3, orphanGraceMs: 0 })).toMatchObject({
      removed: 0,
      writesRemoved: 0,
      blobsRemoved: 0,
    });
    expect((await loopGraph(saver).invoke({ i: 10 }, config)).i).toBe(20);
  });
});

describeWithVersioning("sweep", () => {
  it("soft: idle threads are deleted and can be restored; purge: gone for good; a second sweep finds nothing", async () => {
    for (const mode of ["soft", "purge"] as const) {
      const saver = saverIn(buckets.versioned);
      for (const thread of ["old-1", "old-2"]) {
        await saver.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, checkpointOf({ v: BIG }), meta, {
          v: 1,
        });
      }
      // S3 keeps LastModified to the second
      await new Promise((r) => setTimeout(r, 2100));
      await saver.put({ configurable: { thread_id: "fresh", checkpoint_ns: "" } }, checkpointOf({ v: 1 }), meta, {
        v: 1,
      });
      const dry = await saver.sweep({ idleFor: 1500, mode, dryRun: true });
      expect(dry).toMatchObject({ threads: 3, idle: ["old-1", "old-2"], dryRun: true });
      const done: string[] = [];
      const report = await saver.sweep({ idleFor: 1500, mode, onProgress: (p) => done.push(p.threadId) });
      expect(report).toMatchObject({ threads: 3, idle: ["old-1", "old-2"], mode });
      expect(done).toEqual(["old-1", "old-2"]);
      expect(await saver.getTuple({ configurable: { thread_id: "old-1" } })).toBeUndefined();
      expect(await saver.getTuple({ configurable: { thread_id: "fresh" } })).toBeDefined();
      expect(await saver.sweep({ idleFor: 1500, mode })).toMatchObject({ threads: 1, idle: [] });
      const stored = await allVersions(client, buckets.versioned, saver.layout.thread("old-1"));
      if (mode === "soft") {
        expect(stored.length).toBeGreaterThan(0);
        await saver.restoreThread("old-1");
        expect((await saver.getTuple({ configurable: { thread_id: "old-1" } }))?.checkpoint.channel_values.v).toBe(BIG);
      } else {
        expect(stored).toEqual([]);
      }
    }
  });
});
