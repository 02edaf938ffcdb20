/**
 * Values, names and stored objects that once made a thread unreadable or wrong, each against the
 * real S3 server and compared with LangGraph's MemorySaver where MemorySaver has an answer.
 */
import { randomUUID } from "node:crypto";
import { ListObjectVersionsCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { Annotation, END, START, StateGraph, type BaseCheckpointSaver } from "@langchain/langgraph";
import { JsonPlusSerializer, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, S3Checkpointer, type PurgeReport } from "../../src/index.js";
import { bucketsForFile, describeWithVersioning, testClient } from "../helpers/s3.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";

const client = testClient();
const buckets = bucketsForFile("hard", client);

function saverOn(bucket: string, extra: Record<string, unknown> = {}) {
  return new S3Checkpointer({ bucket, client, prefix: `hard/${randomUUID()}/`, inlineThresholdBytes: 64, ...extra });
}

const cp = checkpointOf;

/** A graph whose node returns values JSON has no form for, run `runs` times on one thread. */
async function runOddValues(saver: BaseCheckpointSaver, threadId: string, runs: number) {
  const State = Annotation.Root({
    hook: Annotation<unknown>({ reducer: (_a, b) => b, default: () => undefined }),
    sym: Annotation<unknown>({ reducer: (_a, b) => b, default: () => undefined }),
    count: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
    nested: Annotation<unknown>({ reducer: (_a, b) => b, default: () => undefined }),
  });
  const graph = new StateGraph(State)
    .addNode("odd", (s) => ({
      hook: () => 1,
      sym: Symbol("s"),
      count: s.count + 1,
      nested: { keep: 1, fn: () => 2, deep: { list: [1, { x: undefined }] } },
    }))
    .addEdge(START, "odd")
    .addEdge("odd", END)
    .compile({ checkpointer: saver });
  const config = { configurable: { thread_id: threadId } };
  for (let i = 0; i < runs; i += 1) await graph.invoke({ count: 5 * i }, config);
  const state = await graph.getState(config);
  const history = [];
  for await (const s of graph.getStateHistory(config)) history.push({ values: s.values, next: s.next });
  return { values: state.values, history };
}

describe.each(["versioned", "unversioned"] as const)("hardening on a %s bucket", (kind) => {
  const bucket = () => buckets[kind];

  it("a function or Symbol in state never bricks the thread: it drops out, as JSON drops it", async () => {
    // MemorySaver of @langchain/langgraph-checkpoint 1.2 throws `Unexpected end of JSON input`
    // on getState of such a thread (its pending writes hold empty JSON): no comparison possible
    const s3 = await runOddValues(saverOn(bucket()), randomUUID(), 3);
    expect(s3.values).toEqual({ count: 11, nested: { keep: 1, deep: { list: [1, { x: undefined }] } } });
    expect(s3.history).toHaveLength(3 * 3);
  });

  it("channels named like Object.prototype's members are kept, inline, by reference and as writes", async () => {
    const saver = saverOn(bucket());
    // `__proto__` too, which LangGraph's serde drops from the checkpoint's versions: its value
    // goes with it, as in MemorySaver
    const names = ["constructor", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"];
    const values = Object.create(null) as Record<string, unknown>;
    for (const n of [...names, "__proto__"]) values[n] = `value of ${n}`;
    values["big"] = "x".repeat(500); // stored as its own object
    const first = cp(values);
    const config = await saver.put({ configurable: { thread_id: "proto", checkpoint_ns: "" } }, first, meta, {
      ...first.channel_versions,
    });
    // the child changes nothing: every channel is found through the parent record
    const child: Checkpoint = { ...first, id: uuid6(-1), channel_values: values };
    const childConfig = await saver.put(config, child, meta, {});
    await saver.putWrites(
      childConfig,
      [
        ["constructor", 1],
        ["__proto__", 2],
        ["toString", 3],
      ],
      "task-1",
    );
    for (const c of [config, childConfig]) {
      const tuple = await saver.getTuple(c);
      const got = tuple!.checkpoint.channel_values as Record<string, unknown>;
      for (const n of names) {
        expect(Object.hasOwn(got, n)).toBe(true);
        expect(got[n]).toBe(`value of ${n}`);
      }
      expect(got["big"]).toBe("x".repeat(500));
      expect(Object.hasOwn(got, "__proto__")).toBe(false);
    }
    const tuple = await saver.getTuple(childConfig);
    expect(tuple!.pendingWrites).toEqual([
      ["task-1", "constructor", 1],
      ["task-1", "__proto__", 2],
      ["task-1", "toString", 3],
    ]);
  });

  it("writes without a record that sort before the newest checkpoint never hide it", async () => {
    const saver = saverOn(bucket());
    const thread = "orphans";
    const config = await saver.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, cp({ a: 1 }), meta, {
      a: 1,
    });
    // 150 crashed writers left writes for checkpoints newer than the latest, whose records never came
    const orphanIds = Array.from({ length: 150 }, () => uuid6(-1));
    await Promise.all(
      orphanIds.map((id) =>
        saver.putWrites({ configurable: { thread_id: thread, checkpoint_ns: "", checkpoint_id: id } }, [["a", 2]], "t"),
      ),
    );
    const latest = await saver.getTuple({ configurable: { thread_id: thread } });
    expect(latest?.config.configurable?.checkpoint_id).toBe(config.configurable!.checkpoint_id);
    const listed = [];
    for await (const t of saver.list({ configurable: { thread_id: thread } }))
      listed.push(t.config.configurable?.checkpoint_id);
    expect(listed).toEqual([config.configurable!.checkpoint_id]);
  });

  it("a record stored as nothing by an older version (empty JSON) reads as a missing channel", async () => {
    // what versions before this fix wrote for a function-valued channel: an inline empty section
    const saver = saverOn(bucket());
    const fn = () => 1;
    const first = cp({ a: 1, hook: fn });
    const config = await saver.put({ configurable: { thread_id: "old", checkpoint_ns: "" } }, first, meta, {
      a: 1,
      hook: 1,
    });
    const tuple = await saver.getTuple(config);
    expect(tuple!.checkpoint.channel_values).toEqual({ a: 1 });
    // and a raw hostile object under the thread's namespace does not hide it either
    await client.send(
      new PutObjectCommand({ Bucket: bucket(), Key: `${saver.options.prefix}threads/old/n/~/zzz/c`, Body: "junk" }),
    );
    expect((await saver.getTuple({ configurable: { thread_id: "old" } }))?.checkpoint.id).toBe(first.id);
  });
});

describe("calls that once failed late, or silently", () => {
  it("putWrites([null]), list(undefined) and calls after close() are typed errors", async () => {
    const saver = saverOn(buckets.unversioned);
    const config = await saver.put({ configurable: { thread_id: "calls", checkpoint_ns: "" } }, cp({ a: 1 }), meta, {
      a: 1,
    });
    await expect(saver.putWrites(config, [null as never], "t")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(saver.putWrites(config, [[1, 2] as never], "t")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(saver.list(undefined as never).next()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await saver.close();
    await expect(saver.getTuple(config)).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
      message: expect.stringContaining("closed"),
    });
    await expect(saver.list({}).next()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    for (const call of [() => saver.setup(), () => saver.capabilities(), () => saver.listVersions("calls").next()]) {
      await expect(call()).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringContaining("closed"),
      });
    }
  });

  it('versioning: "required" refuses an unversioned bucket at the first write, without setup()', async () => {
    const saver = saverOn(buckets.unversioned, { versioning: "required" });
    await expect(
      saver.put({ configurable: { thread_id: "req", checkpoint_ns: "" } }, cp({ a: 1 }), meta, { a: 1 }),
    ).rejects.toMatchObject({
      code: "VERSIONING_UNAVAILABLE",
    });
  });

  it("restoreThread of a purged (or never written) thread says so", async () => {
    const saver = saverOn(buckets.versioned);
    await saver.put({ configurable: { thread_id: "gone", checkpoint_ns: "" } }, cp({ a: 1 }), meta, { a: 1 });
    await saver.purgeThread("gone");
    await expect(saver.restoreThread("gone")).rejects.toMatchObject({ code: "CHECKPOINT_NOT_FOUND" });
    await expect(saver.restoreThread("never")).rejects.toMatchObject({ code: "CHECKPOINT_NOT_FOUND" });
  });

  it("a value above maxObjectBytes fails put with nothing written", async () => {
    const saver = saverOn(buckets.unversioned, { maxObjectBytes: 1024 });
    const config = { configurable: { thread_id: "big", checkpoint_ns: "" } };
    await expect(saver.put(config, cp({ a: "y".repeat(5000) }), meta, { a: 1 })).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(await saver.getTuple(config)).toBeUndefined();
  });
});

describe.each(["versioned", "unversioned"] as const)("a damaged tombstone, on a %s bucket", (kind) => {
  it("never makes the thread or a listing of all threads unreadable; the next delete writes a new one", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (_o: unknown, msg?: string) => warnings.push(msg ?? "") };
    const writer = new S3Checkpointer({ bucket: buckets[kind], client, prefix });
    const at = (thread_id: string) => ({ configurable: { thread_id, checkpoint_ns: "" } });
    await writer.put(at("t"), cp({ a: 1 }), meta, { a: 1 });
    await writer.deleteThread("t"); // writes t's tombstone
    const fresh = cp({ a: 2 });
    await writer.put(at("t"), fresh, meta, { a: 1 });
    await writer.put(at("other"), cp({ b: 1 }), meta, { b: 1 });
    const listed = await client.send(
      new ListObjectsV2Command({ Bucket: buckets[kind], Prefix: `${prefix}tombstones/` }),
    );
    const tombstone = listed.Contents?.[0]?.Key;
    expect(tombstone).toBe(`${prefix}tombstones/t`);
    await client.send(new PutObjectCommand({ Bucket: buckets[kind], Key: tombstone, Body: "not an envelope" }));

    const reader = new S3Checkpointer({ bucket: buckets[kind], client, prefix, logger });
    expect((await reader.getTuple(at("t")))?.checkpoint.id).toBe(fresh.id);
    const threads = [];
    for await (const t of reader.list({})) threads.push(t.config.configurable?.thread_id);
    expect(threads.sort()).toEqual(["other", "t"]);
    expect(warnings.some((w) => w.includes("tombstone"))).toBe(true);

    // a delete heals it: a new token, the old chains hidden, a fresh start shows
    await reader.deleteThread("t");
    expect(await reader.getTuple(at("t"))).toBeUndefined();
    const again = cp({ a: 3 });
    await reader.put(at("t"), again, meta, { a: 1 });
    const later = new S3Checkpointer({ bucket: buckets[kind], client, prefix });
    expect((await later.getTuple(at("t")))?.checkpoint.id).toBe(again.id);
  });
});

describe("copies name their own thread", () => {
  it("copyThread into a long (digest-encoded) id lists the copy under its new id, and reads it whole", async () => {
    const saver = saverOn(buckets.versioned);
    const source = "src-thread";
    const target = `t-${"long".repeat(100)}`;
    const first = cp({ a: 1, big: "z".repeat(300) });
    const config = await saver.put({ configurable: { thread_id: source, checkpoint_ns: "" } }, first, meta, {
      a: 1,
      big: 1,
    });
    await saver.putWrites(config, [["a", 2]], "task");
    expect(await saver.copyThread(source, target)).toBeGreaterThan(0);
    const copy = await saver.getTuple({ configurable: { thread_id: target } });
    expect(copy?.checkpoint.channel_values).toEqual({ a: 1, big: "z".repeat(300) });
    expect(copy?.pendingWrites).toEqual([["task", "a", 2]]);
    const all = [];
    for await (const t of saver.list({})) all.push(t.config.configurable?.thread_id);
    expect(all.sort()).toEqual([source, target].sort());
  });
});

describe("listings that stall", () => {
  /** A client whose listings say "more follows" without saying where, as a faulty store might. */
  function stallingClient(...commands: ("ListObjectsV2" | "ListObjectVersions")[]) {
    const c = testClient();
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const result = await next(args);
        if (commands.some((command) => context.commandName === `${command}Command`)) {
          const out = result.output as unknown as Record<string, unknown>;
          out.IsTruncated = true;
          out.NextContinuationToken = undefined;
          out.NextKeyMarker = undefined;
        }
        return result;
      },
      { step: "initialize", name: "stallListings" },
    );
    return c;
  }

  it("a continuation token that does not advance fails list and deleteThread instead of stopping short", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const writer = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix });
    const first = cp({ a: 1 });
    await writer.put({ configurable: { thread_id: "t", checkpoint_ns: "" } }, first, meta, first.channel_versions);
    // a reader that has not probed the bucket lists versions; one that has, current objects
    const stalled = new S3Checkpointer({
      bucket: buckets.unversioned,
      client: stallingClient("ListObjectsV2", "ListObjectVersions"),
      prefix,
    });
    const listing = async () => {
      for await (const _ of stalled.list({ configurable: { thread_id: "t" } })) void _;
    };
    await expect(listing()).rejects.toMatchObject({ code: "S3_REQUEST_FAILED", s3Code: "StalledListing" });
    // nothing is half-read meanwhile: the list failed before yielding, the thread is whole
    expect((await writer.getTuple({ configurable: { thread_id: "t" } }))?.checkpoint.id).toBe(first.id);
    await expect(stalled.deleteThread("t")).rejects.toMatchObject({ s3Code: "StalledListing" });
    // a delete that failed midway leaves the thread deleted as far as readers go (never half
    // there); running it again finishes the work
    expect(await writer.getTuple({ configurable: { thread_id: "t" } })).toBeUndefined();
    await writer.deleteThread("t");
    const left = await client.send(
      new ListObjectsV2Command({ Bucket: buckets.unversioned, Prefix: `${prefix}threads/` }),
    );
    expect(left.KeyCount ?? 0).toBe(0);
  });

  it("a version listing that does not advance fails purgeThread instead of reporting it done", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const writer = new S3Checkpointer({ bucket: buckets.versioned, client, prefix });
    const first = cp({ a: 1 });
    await writer.put({ configurable: { thread_id: "t", checkpoint_ns: "" } }, first, meta, first.channel_versions);
    const stalled = new S3Checkpointer({
      bucket: buckets.versioned,
      client: stallingClient("ListObjectVersions"),
      prefix,
    });
    await expect(stalled.purgeThread("t")).rejects.toMatchObject({ s3Code: "StalledListing" });
    expect(await writer.getTuple({ configurable: { thread_id: "t" } })).toBeUndefined();
    const report = await writer.purgeThread("t");
    expect(report.failed).toBe(0);
  });
});

/** A two-step graph with a large channel (its own object) and a small one, as a real agent has. */
function docGraph(saver: BaseCheckpointSaver) {
  const State = Annotation.Root({
    doc: Annotation<string>({ reducer: (_a, b) => b, default: () => "" }),
    steps: Annotation<number>({ reducer: (a, b) => a + b, default: () => 0 }),
  });
  return new StateGraph(State)
    .addNode("write", (s) => ({ doc: `${s.doc}${"d".repeat(200)}`, steps: 1 }))
    .addNode("count", () => ({ steps: 1 }))
    .addEdge(START, "write")
    .addEdge("write", "count")
    .addEdge("count", END)
    .compile({ checkpointer: saver });
}

describe.each(["versioned", "unversioned"] as const)("a run that outlives a delete, on a %s bucket", (kind) => {
  const bucket = () => buckets[kind];

  /** Thread `t` with two checkpoints written by `late`, whose cache holds them; then deleted by `other`. */
  async function lateWriterSetup(how: "delete" | "purge") {
    const prefix = `hard/${randomUUID()}/`;
    const late = saverOn(bucket(), { prefix });
    const other = saverOn(bucket(), { prefix });
    const root = cp({ doc: "x".repeat(300), n: 1 });
    const c1 = await late.put({ configurable: { thread_id: "t", checkpoint_ns: "" } }, root, meta, {
      ...root.channel_versions,
    });
    const second: Checkpoint = {
      ...root,
      id: uuid6(-1),
      channel_values: { doc: "x".repeat(300), n: 2 },
      channel_versions: { doc: 1, n: 2 },
    };
    const c2 = await late.put(c1, second, meta, { n: 2 });
    if (how === "delete") await other.deleteThread("t");
    else expect((await other.purgeThread("t")).failed).toBe(0);
    // the run goes on: a child whose unchanged `doc` refers to the deleted channel object
    const third: Checkpoint = {
      ...second,
      id: uuid6(-1),
      channel_values: { doc: "x".repeat(300), n: 3 },
      channel_versions: { doc: 1, n: 3 },
    };
    const c3 = await late.put(c2, third, meta, { n: 3 });
    await late.putWrites(c3, [["n", 4]], "task-late");
    return { prefix, late, other, c3 };
  }

  it.each(["delete", "purge"] as const)(
    "late writes after a %s stay hidden from every instance; a fresh start works",
    async (how) => {
      const { prefix, late, other, c3 } = await lateWriterSetup(how);
      const fresh = saverOn(bucket(), { prefix });
      for (const saver of [late, other, fresh]) {
        // before tombstones: CheckpointCorruptedError (value of channel "doc" is missing), forever
        expect(await saver.getTuple({ configurable: { thread_id: "t" } })).toBeUndefined();
        expect(await saver.getTuple(c3)).toBeUndefined();
        const listed = [];
        for await (const t of saver.list({ configurable: { thread_id: "t" } })) listed.push(t);
        expect(listed).toEqual([]);
        const all = [];
        for await (const t of saver.list({})) all.push(t);
        expect(all).toEqual([]);
      }
      // the expected meaning of a delete: the thread id starts afresh, from any instance
      const graph = docGraph(fresh);
      const config = { configurable: { thread_id: "t" } };
      await graph.invoke({ steps: 0 }, config);
      expect((await graph.getState(config)).values).toEqual({ doc: "d".repeat(200), steps: 2 });
      for (const saver of [late, other]) {
        const again = docGraph(saver);
        await again.invoke({ steps: 0 }, config);
      }
      const state = await docGraph(fresh).getState(config);
      expect(state.values).toEqual({ doc: "d".repeat(600), steps: 6 });
      const history = [];
      for await (const s of docGraph(other).getStateHistory(config)) history.push(s);
      expect(history.every((s) => (s.values as { doc: string }).doc.startsWith("d") || s.values.doc === "")).toBe(true);
    },
  );

  it("a graph still running on another instance when the thread is deleted never bricks it", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const runner = saverOn(bucket(), { prefix });
    const deleter = saverOn(bucket(), { prefix });
    const config = { configurable: { thread_id: "busy" } };
    const graph = docGraph(runner);
    await graph.invoke({ steps: 0 }, config);
    // deletes race the next runs
    // both runs to their end, whether they fail or not (Promise.all would stop waiting at the
    // first failure while the other run goes on writing)
    const runs = Promise.allSettled([graph.invoke({ steps: 0 }, config), graph.invoke({ steps: 0 }, config)]);
    await Promise.all([deleter.deleteThread("busy"), runs]);
    await deleter.deleteThread("busy");
    for (const saver of [runner, deleter, saverOn(bucket(), { prefix })]) {
      const state = await docGraph(saver).getState(config);
      expect(state.values).toEqual({}); // deleted means empty, from everywhere
    }
    // a fresh start from the instance that was running the graph shows everywhere
    await graph.invoke({ steps: 0 }, config);
    expect((await docGraph(deleter).getState(config)).values).toEqual({ doc: "d".repeat(200), steps: 2 });
    expect((await graph.getState(config)).values).toEqual({ doc: "d".repeat(200), steps: 2 });
  });

  /**
   * A runner whose tombstone reads go through `hook` (a delay, a failure), after a run and
   * another instance's delete.
   */
  async function afterDelete(hook: { on: (() => Promise<void>) | undefined }) {
    const prefix = `hard/${randomUUID()}/`;
    const hooked = testClient();
    hooked.middlewareStack.add(
      (next, context) => async (args) => {
        const key = String((args.input as { Key?: unknown }).Key ?? "");
        if (hook.on && context.commandName === "GetObjectCommand" && key.includes("tombstones/")) await hook.on();
        return next(args);
      },
      { step: "initialize", name: "tombstoneHook" },
    );
    const runner = new S3Checkpointer({ bucket: bucket(), client: hooked, prefix, inlineThresholdBytes: 64 });
    const graph = docGraph(runner);
    const config = { configurable: { thread_id: "again" } };
    await graph.invoke({ steps: 0 }, config);
    await saverOn(bucket(), { prefix }).deleteThread("again");
    return { graph, config, readers: [runner, saverOn(bucket(), { prefix })] };
  }

  it("a fresh start whose tombstone read is still on its way takes the generation that read finds", async () => {
    // an empty thread's getTuple answers from its listing while the tombstone read sent beside it
    // is still going; LangGraph then writes the root checkpoint, which once took the token this
    // instance had read before the delete, so the new run was hidden from every reader
    const hook: { on: (() => Promise<void>) | undefined } = { on: undefined };
    const { graph, config, readers } = await afterDelete(hook);
    hook.on = () => new Promise((resolve) => setTimeout(resolve, 300));
    await graph.invoke({ steps: 0 }, config);
    hook.on = undefined;
    for (const saver of readers) {
      expect((await docGraph(saver).getState(config)).values).toEqual({ doc: "d".repeat(200), steps: 2 });
    }
  });

  it("a fresh start whose tombstone read failed reads the generation again for its root", async () => {
    const hook: { on: (() => Promise<void>) | undefined } = { on: undefined };
    const { graph, config, readers } = await afterDelete(hook);
    // the read beside the (empty) listing fails; nothing needed it, so getTuple still answers
    hook.on = () => {
      hook.on = undefined;
      return Promise.reject(new Error("refused once"));
    };
    await graph.invoke({ steps: 0 }, config);
    for (const saver of readers) {
      expect((await docGraph(saver).getState(config)).values).toEqual({ doc: "d".repeat(200), steps: 2 });
    }
  });
});

describeWithVersioning("a soft delete undone", () => {
  it("restoreThread brings the thread back whole, with what a run still going wrote meanwhile", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const saver = saverOn(buckets.versioned, { prefix });
    const config = { configurable: { thread_id: "undo" } };
    const graph = docGraph(saver);
    await graph.invoke({ steps: 0 }, config);
    const before = await graph.getState(config);
    const latest = (await saver.getTuple(config))!;
    await saverOn(buckets.versioned, { prefix }).deleteThread("undo");
    // a late child of the latest checkpoint
    const late: Checkpoint = { ...latest.checkpoint, id: uuid6(-1) };
    await saver.put(latest.config, late, meta, {});
    expect(await saver.getTuple(config)).toBeUndefined();
    await saverOn(buckets.versioned, { prefix }).restoreThread("undo");
    // the late child continues the restored chain (its parts came back with it): readable whole
    const reader = docGraph(saverOn(buckets.versioned, { prefix }));
    const after = await reader.getState(config);
    expect(after.values).toEqual(before.values);
    expect(after.config.configurable?.checkpoint_id).toBe(late.id);
    const ids = [];
    for await (const s of reader.getStateHistory(config)) ids.push(s.config.configurable?.checkpoint_id);
    expect(ids).toContain(before.config.configurable?.checkpoint_id);
    // and a checkpoint restored by version id from a deleted thread shows in it
    const versions = [];
    for await (const v of saver.listVersions("undo")) versions.push(v);
    await saver.deleteThread("undo");
    const restored = await saver.restoreCheckpoint({
      configurable: { thread_id: "undo", s3_version_id: versions[0]!.versionId },
    });
    const tuple = await saverOn(buckets.versioned, { prefix }).getTuple({ configurable: { thread_id: "undo" } });
    expect(tuple?.config.configurable?.checkpoint_id).toBe(restored.configurable?.checkpoint_id);
  });
});

describeWithVersioning("a purge in a race", () => {
  it("reports truly what a writer still running left, keeps it hidden, and a second purge finishes", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const writer = saverOn(buckets.versioned, { prefix });
    const purger = saverOn(buckets.versioned, { prefix });
    let config = await writer.put({ configurable: { thread_id: "race", checkpoint_ns: "" } }, cp({ n: 0 }), meta, {
      n: 1,
    });
    for (let i = 1; i < 20; i += 1) config = await writer.put(config, cp({ n: i }, i + 1), meta, { n: i + 1 });
    let writing = true;
    const late = (async () => {
      let i = 100;
      while (writing) {
        config = await writer.put(config, cp({ n: i }, i + 1), meta, { n: i + 1 });
        await writer.putWrites(config, [["n", i]], `task-${i}`);
        i += 1;
      }
    })();
    const outcome = await purger.purgeThread("race").then(
      (report) => ({ report, error: undefined }),
      (error: { code?: string; report?: PurgeReport }) => ({ report: error.report, error }),
    );
    writing = false;
    await late;
    const report = outcome.report!;
    expect(report).toBeDefined();
    // an error exactly when something was left, and the report counts it
    if (outcome.error) expect([outcome.error.code, report.failed > 0]).toEqual(["PURGE_INCOMPLETE", true]);
    else expect(report.failed).toBe(0);
    expect(report.versionsDeleted).toBeLessThanOrEqual(report.versionsFound);
    expect(report.versionsDeleted).toBeGreaterThanOrEqual(20); // the 20 checkpoints written before
    // whatever the writer added stays out of sight
    expect(await purger.getTuple({ configurable: { thread_id: "race" } })).toBeUndefined();
    expect(await writer.getTuple({ configurable: { thread_id: "race" } })).toBeUndefined();
    const second = await purger.purgeThread("race");
    expect(second.failed).toBe(0);
    const left = await client.send(
      new ListObjectVersionsCommand({ Bucket: buckets.versioned, Prefix: `${prefix}threads/` }),
    );
    expect([...(left.Versions ?? []), ...(left.DeleteMarkers ?? [])]).toEqual([]);
  });
});

describe("values at the edge of what the serializer takes", () => {
  const nest = (depth: number) => {
    let o: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < depth; i += 1) o = { o };
    return o;
  };

  it("undefined, BigInt, a throwing toJSON, cycles, Map, Set, Date and deep nesting read back as from MemorySaver", async () => {
    const values: Record<string, unknown> = {
      undef: undefined,
      big: 10n,
      throwing: {
        toJSON() {
          throw new Error("no JSON for me");
        },
      },
      cyclic: (() => {
        const o: Record<string, unknown> = { a: 1 };
        o.self = o;
        return o;
      })(),
      map: new Map([["k", 1]]),
      set: new Set([1, 2]),
      date: new Date(0),
      nan: Number.NaN,
      deep: nest(2000),
    };
    // what LangGraph's serializer itself makes of each value (MemorySaver 1.2 loses the whole
    // channel map of such a checkpoint, so it cannot be the reference here)
    const serde = new JsonPlusSerializer();
    const expected: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(values)) {
      const [type, bytes] = await serde.dumpsTyped(v);
      expected[k] = await serde.loadsTyped(type, bytes);
    }
    const saver = saverOn(buckets.unversioned);
    const first = cp(values);
    const config = await saver.put({ configurable: { thread_id: "edge", checkpoint_ns: "" } }, first, meta, {
      ...first.channel_versions,
    });
    await saver.putWrites(config, Object.entries(values), "task");
    for (const reader of [saver, saverOn(buckets.unversioned, { prefix: saver.options.prefix })]) {
      const tuple = await reader.getTuple(config);
      expect(tuple!.checkpoint.channel_values).toEqual(expected);
      expect(tuple!.pendingWrites).toEqual(Object.entries(expected).map(([k, v]) => ["task", k, v]));
    }
  });

  it("a value the serializer cannot encode fails put and putWrites with a typed error, nothing written", async () => {
    const prefix = `hard/${randomUUID()}/`;
    const saver = saverOn(buckets.unversioned, { prefix });
    const tooDeep = cp({ fine: 1, deep: nest(200_000) });
    await expect(
      saver.put({ configurable: { thread_id: "deep", checkpoint_ns: "" } }, tooDeep, meta, { fine: 1, deep: 1 }),
    ).rejects.toThrow(InvalidArgumentError);
    const ok = cp({ fine: 1 });
    const config = await saver.put({ configurable: { thread_id: "deep2", checkpoint_ns: "" } }, ok, meta, { fine: 1 });
    await expect(
      saver.putWrites(
        config,
        [
          ["fine", 2],
          ["deep", nest(200_000)],
        ],
        "task",
      ),
    ).rejects.toThrow(InvalidArgumentError);
    const left = await client.send(
      new ListObjectsV2Command({ Bucket: buckets.unversioned, Prefix: `${prefix}threads/` }),
    );
    // only deep2's record: nothing of the failed put, no writes of the failed putWrites
    expect((left.Contents ?? []).map((o) => o.Key!.slice(prefix.length).split("/")[1])).toEqual(["deep2"]);
    expect((await saver.getTuple(config))?.pendingWrites).toEqual([]);
  });
});
