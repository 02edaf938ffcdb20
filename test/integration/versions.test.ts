/**
 * Versions, recovery and erasure against the real S3 server (versioned buckets), and the typed
 * errors of the version features on a bucket without versioning. The 5,000-version test is in
 * test/soak.
 */
import { randomUUID } from "node:crypto";
import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand } from "@aws-sdk/client-s3";
import { Annotation, Command, END, START, StateGraph, interrupt } from "@langchain/langgraph";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { CheckpointNotFoundError, S3Checkpointer, VersioningUnavailableError } from "../../src/index.js";
import {
  allVersions,
  bucketsForFile,
  createBucket,
  describeWithVersioning,
  dropBucket,
  testClient,
  uniqueBucket,
} from "../helpers/s3.js";

const client = testClient();
const { versioned: bucket, unversioned: plain } = bucketsForFile("ver", client);

async function saverOn(b = bucket, options: Record<string, unknown> = {}) {
  const saver = new S3Checkpointer({
    bucket: b,
    client,
    prefix: `v/${randomUUID()}/`,
    inlineThresholdBytes: 256,
    ...options,
  });
  await saver.setup();
  return saver;
}

const State = Annotation.Root({
  topic: Annotation<string>(),
  notes: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});
/** A graph that writes a large channel, pauses for approval in a subgraph, then finishes. */
function agent(saver: S3Checkpointer) {
  const review = new StateGraph(State)
    .addNode("ask", () => ({ notes: [`approved: ${String(interrupt("approve?"))}`] }))
    .addEdge(START, "ask")
    .addEdge("ask", END)
    .compile();
  return new StateGraph(State)
    .addNode("research", (s) => ({ notes: [`${s.topic}: ${"finding ".repeat(100)}`] }))
    .addNode("review", review)
    .addNode("write", (s) => ({ notes: [`report on ${s.topic} from ${s.notes.length} notes`] }))
    .addEdge(START, "research")
    .addEdge("research", "review")
    .addEdge("review", "write")
    .addEdge("write", END)
    .compile({ checkpointer: saver });
}
async function history(graph: ReturnType<typeof agent>, threadId: string) {
  const out = [];
  for await (const s of graph.getStateHistory({ configurable: { thread_id: threadId } })) {
    out.push({ id: s.config.configurable?.checkpoint_id, values: s.values, next: s.next, metadata: s.metadata });
  }
  return out;
}

describeWithVersioning("trash and recover", () => {
  it("deleteThread hides a thread, restoreThread brings it back exactly", async () => {
    const saver = await saverOn();
    const graph = agent(saver);
    const config = { configurable: { thread_id: "trash" } };
    await graph.invoke({ topic: "tides" }, config);
    await graph.invoke(new Command({ resume: "yes" }), config);
    const before = await history(graph, "trash");
    expect(before.length).toBeGreaterThan(3);

    await saver.deleteThread("trash");
    expect(await saver.getTuple(config)).toBeUndefined();
    expect(await history(graph, "trash")).toEqual([]);
    // the versions are still there, marked deleted
    const versions = [];
    // getStateHistory shows the root namespace; the subgraph's checkpoints have their own
    for await (const v of saver.listVersions("trash", { checkpointNs: "", includeDeleted: true })) versions.push(v);
    expect(versions.length).toBe(before.length);
    expect(versions.every((v) => v.deleted)).toBe(true);
    const visible = [];
    for await (const v of saver.listVersions("trash")) visible.push(v);
    expect(visible).toEqual([]);

    expect(await saver.restoreThread("trash")).toBeGreaterThan(0);
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    expect(await history(agent(fresh), "trash")).toEqual(before);
    expect(await saver.restoreThread("trash")).toBe(0); // nothing left to undo
  });
});

describeWithVersioning("history through versions", () => {
  it("tuples carry s3_version_id; getTuple reads exactly that version, with or without checkpoint_id", async () => {
    const saver = await saverOn();
    const config = await saver.put(
      { configurable: { thread_id: "h" } },
      { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { a: 1 }, channel_versions: { a: "1" } },
      { source: "input", step: -1, parents: {} },
      { a: "1" },
    );
    const tuple = await saver.getTuple(config);
    const versionId = tuple?.config.configurable?.s3_version_id as string;
    expect(versionId).toBeTruthy();
    const listed = [];
    for await (const v of saver.listVersions("h")) listed.push(v);
    expect(listed).toMatchObject([
      { checkpointId: config.configurable?.checkpoint_id, checkpointNs: "", versionId, deleted: false },
    ]);
    await saver.deleteThread("h");
    const byVersion = await saver.getTuple({ configurable: { thread_id: "h", s3_version_id: versionId } });
    expect(byVersion?.checkpoint.channel_values).toEqual({ a: 1 });
    const byBoth = await saver.getTuple({
      configurable: { thread_id: "h", checkpoint_id: config.configurable?.checkpoint_id, s3_version_id: versionId },
    });
    expect(byBoth?.checkpoint.id).toBe(config.configurable?.checkpoint_id);
    expect(
      await saver.getTuple({ configurable: { thread_id: "h", s3_version_id: "no-such-version" } }),
    ).toBeUndefined();
  });

  it("a deleted thread read from history shows the first regular writes of a task, as it did before the delete", async () => {
    const saver = await saverOn();
    const config = await saver.put(
      { configurable: { thread_id: "hw" } },
      { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { a: 1 }, channel_versions: { a: "1" } },
      { source: "input", step: -1, parents: {} },
      { a: "1" },
    );
    await saver.putWrites(config, [["ch", "first"]], "task", "~a");
    // another instance writes the same task's writes again (on Ceph RGW: a second version)
    await new S3Checkpointer({ bucket, client, prefix: saver.options.prefix }).putWrites(
      config,
      [["ch", "late"]],
      "task",
      "~a",
    );
    const versionId = (await saver.getTuple(config))?.config.configurable?.s3_version_id as string;
    expect((await saver.getTuple(config))?.pendingWrites).toEqual([["task", "ch", "first"]]);
    await saver.deleteThread("hw");
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    expect(
      (await fresh.getTuple({ configurable: { ...config.configurable, s3_version_id: versionId } }))?.pendingWrites,
    ).toEqual([["task", "ch", "first"]]);
  });

  it("restores a past checkpoint of a deleted thread and a real graph continues from it", async () => {
    const saver = await saverOn();
    const graph = agent(saver);
    const config = { configurable: { thread_id: "rewind" } };
    await graph.invoke({ topic: "glaciers" }, config);
    const paused = await saver.getTuple(config); // waiting for approval inside the subgraph
    const versionId = paused!.config.configurable!.s3_version_id as string;
    await graph.invoke(new Command({ resume: "no" }), config);
    await saver.deleteThread("rewind");

    const restored = await saver.restoreCheckpoint({ configurable: { thread_id: "rewind", s3_version_id: versionId } });
    const tuple = await saver.getTuple(restored);
    expect(tuple?.metadata?.source).toBe("fork");
    expect(tuple?.checkpoint.channel_values).toEqual(paused!.checkpoint.channel_values);
    const latest = await saver.getTuple({ configurable: { thread_id: "rewind" } });
    expect(latest?.checkpoint.id).toBe(restored.configurable?.checkpoint_id);

    const state = await graph.getState({ configurable: { thread_id: "rewind" } });
    expect(state.next).toEqual(["review"]);
    // a restored checkpoint is a fork: it continues from its state, so the review runs again
    await graph.invoke(null, restored);
    const asking = await graph.getState({ configurable: { thread_id: "rewind" } });
    expect(asking.tasks[0]?.interrupts[0]?.value).toBe("approve?");
    const result = await graph.invoke(new Command({ resume: "yes, after all" }), {
      configurable: { thread_id: "rewind" },
    });
    expect(result.notes.at(-2)).toBe("approved: yes, after all");
    expect(result.notes.at(-1)).toMatch(/^report on glaciers/);

    // into another thread, too
    const other = await saver.restoreCheckpoint(
      { configurable: { thread_id: "rewind", s3_version_id: versionId } },
      { toThreadId: "rewind-copy" },
    );
    expect((await saver.getTuple(other))?.checkpoint.channel_values).toEqual(paused!.checkpoint.channel_values);
    await expect(
      saver.restoreCheckpoint({ configurable: { thread_id: "rewind", s3_version_id: "nope" } }),
    ).rejects.toThrow(CheckpointNotFoundError);
  });
});

describeWithVersioning("purge", () => {
  it("leaves no version and no delete marker, is idempotent, and retries a failed batch", async () => {
    // a client whose first DeleteObjects fails (SDK middleware fault injection, no SDK retry)
    const faulty = testClient({ maxAttempts: 1 });
    let failures = 0;
    faulty.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "DeleteObjectsCommand" && failures > 0) {
          failures -= 1;
          throw Object.assign(new Error("injected: internal error"), {
            name: "InternalError",
            $metadata: { httpStatusCode: 500 },
          });
        }
        return next(args);
      },
      { step: "initialize", name: "injectDeleteFailure" },
    );
    const saver = new S3Checkpointer({
      bucket,
      client: faulty,
      prefix: `v/${randomUUID()}/`,
      inlineThresholdBytes: 256,
    });
    await saver.setup();
    const graph = agent(saver);
    const config = { configurable: { thread_id: "erase-me" } };
    await graph.invoke({ topic: "secrets" }, config);
    await graph.invoke(new Command({ resume: "yes" }), config);
    await saver.deleteThread("erase-me").catch(() => undefined); // may hit the injected failure: fine
    failures = 1;
    const report = await saver.purgeThread("erase-me");
    expect(report.failed).toBe(0);
    expect(report.versionsFound).toBeGreaterThan(0);
    expect(report.versionsDeleted).toBeGreaterThanOrEqual(report.versionsFound);
    expect(await allVersions(client, bucket, saver.layout.thread("erase-me"))).toEqual([]);
    expect(await saver.purgeThread("erase-me")).toMatchObject({ versionsFound: 0, failed: 0 });
    expect(failures).toBe(0);
  });

  it("deleteMode 'purge' erases instead of hiding", async () => {
    const saver = await saverOn(bucket, { deleteMode: "purge" });
    await saver.put(
      { configurable: { thread_id: "p" } },
      { ...emptyCheckpoint(), id: uuid6(-1) },
      { source: "input", step: -1, parents: {} },
      {},
    );
    await saver.deleteThread("p");
    expect(await allVersions(client, bucket, saver.layout.thread("p"))).toEqual([]);
  });
});

describeWithVersioning("copyThread", () => {
  it("makes a full, independent copy with server-side copies", async () => {
    const saver = await saverOn();
    const graph = agent(saver);
    await graph.invoke({ topic: "rivers" }, { configurable: { thread_id: "orig" } });
    const copied = await saver.copyThread("orig", "copy");
    expect(copied).toBeGreaterThan(0);
    const original = await history(graph, "orig");
    const copy = await history(graph, "copy");
    expect(copy.map((s) => s.values)).toEqual(original.map((s) => s.values));
    await saver.purgeThread("orig");
    await graph.invoke(new Command({ resume: "yes" }), { configurable: { thread_id: "copy" } });
    expect((await graph.getState({ configurable: { thread_id: "copy" } })).values.notes.at(-1)).toMatch(
      /^report on rivers/,
    );
    await expect(saver.copyThread("copy", "copy")).rejects.toThrow();
  });
});

describeWithVersioning("setup with versioning and lifecycle", () => {
  it("turns versioning on, merges its lifecycle rule with the bucket's own, and is idempotent", async () => {
    const b = uniqueBucket("lc");
    await createBucket(client, b, false);
    await client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: b,
        LifecycleConfiguration: {
          Rules: [
            { ID: "someone-elses-rule", Status: "Enabled", Filter: { Prefix: "logs/" }, Expiration: { Days: 7 } },
          ],
        },
      }),
    );
    const saver = new S3Checkpointer({ bucket: b, client, prefix: "agents/", versioning: "required" });
    const caps = await saver.setup({
      versioning: true,
      lifecycle: { noncurrentVersionDays: 14, abortIncompleteMultipartDays: 2 },
    });
    expect(caps.versioning).toBe("Enabled");
    await saver.setup({ versioning: true, lifecycle: { noncurrentVersionDays: 14, abortIncompleteMultipartDays: 2 } });
    const rules = (await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: b }))).Rules ?? [];
    expect(rules.map((r) => r.ID).sort()).toEqual([
      "langgraph-checkpoint-s3:agents/",
      "langgraph-checkpoint-s3:agents/shares/",
      "someone-elses-rule",
    ]);
    // shares expire with their URLs (7 days at most), a day later by the lifecycle's clock
    const shares = rules.find((r) => r.ID === "langgraph-checkpoint-s3:agents/shares/")!;
    expect(shares.Filter?.Prefix).toBe("agents/shares/");
    expect(shares.Expiration?.Days).toBe(8);
    const ours = rules.find((r) => r.ID === "langgraph-checkpoint-s3:agents/")!;
    expect(ours.NoncurrentVersionExpiration?.NoncurrentDays).toBe(14);
    expect(ours.AbortIncompleteMultipartUpload?.DaysAfterInitiation).toBe(2);
    await dropBucket(client, b);
  });
});

describe("on a bucket without versioning", () => {
  it("version features are a typed error", async () => {
    const saver = await saverOn(plain);
    await expect(saver.restoreThread("x")).rejects.toThrow(VersioningUnavailableError);
    await expect(saver.listVersions("x").next()).rejects.toThrow(VersioningUnavailableError);
    await expect(new S3Checkpointer({ bucket: plain, client, versioning: "required" }).setup()).rejects.toThrow(
      VersioningUnavailableError,
    );
    // the core contract still works, and deletes are hard
    const config = await saver.put(
      { configurable: { thread_id: "x" } },
      { ...emptyCheckpoint(), id: uuid6(-1) },
      { source: "input", step: -1, parents: {} },
      {},
    );
    expect(await saver.getTuple(config)).toBeDefined();
    await saver.deleteThread("x");
    expect(await allVersions(client, plain, saver.layout.thread("x"))).toEqual([]);
  });
});
