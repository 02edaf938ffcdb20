/**
 * Operating agent state: listing threads, and migrating them between savers (this S3 saver,
 * LangGraph's MemorySaver, another prefix), resumed after a crash, continued by a real graph.
 */
import { randomUUID } from "node:crypto";
import { Command, MemorySaver, type BaseCheckpointSaver } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import { S3Checkpointer, migrate } from "../../src/index.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";
import { approvalGraph } from "../helpers/graphs.js";
import { bucketsForFile, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("ops", client);
const saverAt = (prefix: string) =>
  new S3Checkpointer({ bucket: buckets.unversioned, client, prefix, inlineThresholdBytes: 64 });

describe("listThreads", () => {
  it("lists every thread once, in pages, with details on request; odd and long ids included", async () => {
    const saver = saverAt(`ops/${randomUUID()}/`);
    const ids = ["a", "b/c", "ü🙂", "", "x".repeat(300), "z"];
    for (const id of ids) {
      const c = checkpointOf({ v: id.slice(0, 10) });
      const config = await saver.put({ configurable: { thread_id: id, checkpoint_ns: "" } }, c, meta, { v: 1 });
      await saver.put({ configurable: { thread_id: id, checkpoint_ns: "sub:1" } }, checkpointOf({ w: 1 }), meta, {
        w: 1,
      });
      await saver.putWrites(config, [["v", 2]], "task");
    }
    const all = [];
    for await (const t of saver.listThreads()) all.push(t.threadId);
    expect(all.sort()).toEqual([...ids].sort());
    const first = [];
    for await (const t of saver.listThreads({ limit: 2 })) first.push(t.threadId);
    const rest = [];
    for await (const t of saver.listThreads({ after: first[1] })) rest.push(t.threadId);
    expect([...first, ...rest].sort()).toEqual([...ids].sort());
    const detailed = [];
    for await (const t of saver.listThreads({ details: true })) detailed.push(t);
    const a = detailed.find((t) => t.threadId === "a")!;
    expect(a).toMatchObject({ checkpoints: 2, namespaces: ["", "sub:1"] });
    expect(a.bytes).toBeGreaterThan(0);
    expect(a.lastCheckpointAt).toBeInstanceOf(Date);
    await expect(async () => {
      for await (const _ of saver.listThreads({ limit: -1 })) void _;
    }).rejects.toThrow(/limit/);
  });
});

describe("migrate", () => {
  it("S3 → MemorySaver → another S3 prefix: every checkpoint and write, and the graph continues as the original", async () => {
    const source = saverAt(`ops/${randomUUID()}/`);
    const config = { configurable: { thread_id: "m" } };
    await approvalGraph(source).invoke({ log: [] }, config);
    const memory = new MemorySaver();
    const toMemory = await migrate({ from: source, to: memory });
    expect(toMemory).toMatchObject({ threads: 1, alreadyThere: 0 });
    expect(toMemory.written).toBe(toMemory.checkpoints);
    const target = saverAt(`ops/${randomUUID()}/`);
    const progress: number[] = [];
    const toS3 = await migrate({ from: memory, to: target, onProgress: (p) => progress.push(p.done) });
    expect(toS3.written).toBe(toMemory.written);
    expect(progress.at(-1)).toBe(toS3.checkpoints);
    // the same histories, with the interrupt pending in each
    const historyOf = async (s: BaseCheckpointSaver) => {
      const out = [];
      for await (const t of s.list({ configurable: { thread_id: "m" } })) {
        out.push({
          id: t.checkpoint.id,
          parent: t.parentConfig?.configurable?.checkpoint_id,
          values: t.checkpoint.channel_values,
          writes: t.pendingWrites,
          meta: t.metadata,
        });
      }
      return out;
    };
    expect(await historyOf(target)).toEqual(await historyOf(source));
    // continue on the original and on the migrated copy: the same end
    const ends = [];
    for (const s of [source, target]) {
      const graph = approvalGraph(s);
      expect((await graph.getState(config)).tasks.some((t) => t.interrupts.length > 0)).toBe(true);
      await graph.invoke(new Command({ resume: "yes" }), config);
      ends.push((await graph.getState(config)).values);
    }
    expect(ends[1]).toEqual(ends[0]);
    expect(ends[0]).toEqual({ log: ["planned", "approved: yes", "acted after 2"] });
  });

  it("a migration that crashed halfway finishes when run again: nothing lost, nothing twice", async () => {
    const source = saverAt(`ops/${randomUUID()}/`);
    for (const thread of ["t1", "t2", "t3"])
      await approvalGraph(source).invoke({ log: [] }, { configurable: { thread_id: thread } });
    const target = saverAt(`ops/${randomUUID()}/`);
    // a target that fails on its 5th put, as a process killed halfway would stop
    let puts = 0;
    const failing = new Proxy(target, {
      get(obj, prop, receiver) {
        if (prop === "put") {
          return (...args: Parameters<S3Checkpointer["put"]>) => {
            if (++puts === 5) throw new Error("killed");
            return obj.put(...args);
          };
        }
        const v = Reflect.get(obj, prop, receiver);
        return typeof v === "function" ? v.bind(obj) : v;
      },
    });
    await expect(migrate({ from: source, to: failing })).rejects.toThrow("killed");
    const resumed = await migrate({ from: source, to: target });
    expect(resumed.alreadyThere).toBe(4);
    expect(resumed.written + resumed.alreadyThere).toBe(resumed.checkpoints);
    const again = await migrate({ from: source, to: target });
    expect(again).toMatchObject({ written: 0, writes: 0, alreadyThere: resumed.checkpoints });
    for (const thread of ["t1", "t2", "t3"]) {
      const ids = async (s: BaseCheckpointSaver) => {
        const out = [];
        for await (const t of s.list({ configurable: { thread_id: thread } }))
          out.push([t.checkpoint.id, t.pendingWrites?.length]);
        return out;
      };
      expect(await ids(target)).toEqual(await ids(source));
    }
  });
});
