/**
 * Sharing state through signed URLs against the real server: URLs that work until they expire
 * (real clock), revocation, altered signatures, paths and keys, oversized and malformed bundles
 * refused before any write, sharing by version id after a delete, and a graph that continues
 * from an import into MemorySaver and into a second S3Checkpointer exactly as the original does.
 */
import { randomUUID } from "node:crypto";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Annotation, Command, END, MemorySaver, START, StateGraph, interrupt } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  CheckpointCorruptedError,
  CheckpointNotFoundError,
  DecryptionFailedError,
  InvalidArgumentError,
  S3Checkpointer,
  ShareUnavailableError,
  importShared,
  readShared,
  type Logger,
} from "../../src/index.js";
import { allVersions, bucketsForFile, describeWithVersioning, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("share", client);

function saverOn(bucket: string, extra: Record<string, unknown> = {}) {
  return new S3Checkpointer({ bucket, client, prefix: `share/${randomUUID()}/`, inlineThresholdBytes: 256, ...extra });
}

const State = Annotation.Root({
  topic: Annotation<string>(),
  notes: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

/** Research (a large channel), a pause for approval, then a report. */
function agent(checkpointer: BaseCheckpointSaver) {
  return new StateGraph(State)
    .addNode("research", (s) => ({ notes: [`${s.topic}: ${"finding ".repeat(200)}`] }))
    .addNode("approve", () => ({ notes: [`approved: ${String(interrupt({ question: "publish?" }))}`] }))
    .addNode("write", (s) => ({ notes: [`report on ${s.topic} from ${s.notes.length} notes`] }))
    .addEdge(START, "research")
    .addEdge("research", "approve")
    .addEdge("approve", "write")
    .addEdge("write", END)
    .compile({ checkpointer });
}

/** A thread run to its interrupt. */
async function paused(saver: S3Checkpointer, threadId = "t-1") {
  const config = { configurable: { thread_id: threadId } };
  await agent(saver).invoke({ topic: "tides" }, config);
  return config;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected a rejection");
    },
    (e: unknown) => e,
  );
}

function isEmpty(memory: MemorySaver): boolean {
  return Object.keys(memory.storage).length === 0 && Object.keys(memory.writes).length === 0;
}

/** Share, list, revoke: the URL fails at once, nothing is left, and the counters say so. */
async function revokes(bucket: string) {
  const registry = new Registry();
  const saver = saverOn(bucket, { metrics: { registry } });
  const config = await paused(saver);
  const share = await saver.share(config, { expiresIn: 600 });
  await readShared(share.url);
  const listed = [];
  for await (const s of saver.listShares()) listed.push(s);
  expect(listed).toEqual([
    expect.objectContaining({
      shareId: share.shareId,
      threadId: "t-1",
      checkpointNs: "",
      encrypted: true,
      checkpoints: 1,
      expired: false,
    }),
  ]);
  expect(listed[0]!.expiresAt).toEqual(share.expiresAt);
  expect(await saver.revokeShare(share.shareId)).toBe(true);
  const e = await rejection(readShared(share.url));
  expect(e).toBeInstanceOf(ShareUnavailableError);
  expect((e as ShareUnavailableError).status).toBe(404);
  expect(await allVersions(client, bucket, saver.layout.sharesRoot)).toEqual([]);
  expect(await saver.revokeShare(share.shareId)).toBe(false);
  const counters = await registry.getMetricsAsJSON();
  const value = (name: string) => counters.find((m) => m.name === `langgraph_s3_${name}`)?.values[0]?.value;
  expect(value("shares_created_total")).toBe(1);
  expect(value("shares_revoked_total")).toBe(1);
}

describe("share URLs", () => {
  it("work until they expire, and fail with a typed error after (real clock)", async () => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    const { url, expiresAt } = await saver.share(config, { expiresIn: 2 });
    // the URL's own dates say the same expiry
    const signed = new URL(url).searchParams;
    const date = signed
      .get("X-Amz-Date")!
      .replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z");
    expect(new Date(Date.parse(date) + Number(signed.get("X-Amz-Expires")) * 1000)).toEqual(expiresAt);
    const tuple = await readShared(url);
    const original = await saver.getTuple(config);
    expect(tuple.checkpoint).toEqual(original!.checkpoint);
    expect(tuple.pendingWrites).toEqual(original!.pendingWrites);
    expect(tuple.config.configurable).toMatchObject({
      thread_id: "t-1",
      checkpoint_ns: "",
      checkpoint_id: original!.checkpoint.id,
    });
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt.getTime() - Date.now()) + 1500));
    const e = await rejection(readShared(url));
    expect(e).toBeInstanceOf(ShareUnavailableError);
    expect((e as ShareUnavailableError).reason).toBe("expired");
    expect((e as ShareUnavailableError).status).toBe(403);
  });

  it("revoked, fail at once, and nothing of them is left", () => revokes(buckets.unversioned));

  it("fail with a typed error when their signature or path is altered [needs a store that checks presigned signatures]", async (ctx) => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    const { url, shareId } = await saver.share(config, { expiresIn: 600 });
    const u = new URL(url);
    const signature = u.searchParams.get("X-Amz-Signature")!;
    u.searchParams.set("X-Amz-Signature", `${signature[0] === "0" ? "1" : "0"}${signature.slice(1)}`);
    const badSignature = await readShared(u.toString()).catch((e: unknown) => e);
    // s3rver serves a presigned URL whatever its signature says
    if (!(badSignature instanceof Error)) ctx.skip();
    expect(badSignature).toBeInstanceOf(ShareUnavailableError);
    expect((badSignature as ShareUnavailableError).reason).toBe("denied");
    // another share id in the path: the signature does not cover it
    const other = await saver.share(config, { expiresIn: 600 });
    const swapped = await rejection(readShared(url.replace(shareId, other.shareId)));
    expect(swapped).toBeInstanceOf(ShareUnavailableError);
    expect((swapped as ShareUnavailableError).status).toBe(403);
  });

  it("fail with a typed error when their key is altered or missing, or the path is not a share's", async () => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    const { url } = await saver.share(config, { expiresIn: 600 });
    const other = await saver.share(config, { expiresIn: 600 });
    await expect(readShared(url.replace("/bundle?", "/about?"))).rejects.toThrow(InvalidArgumentError);
    await expect(readShared("not a url")).rejects.toThrow(InvalidArgumentError);
    const [base, fragment] = url.split("#");
    const key = Buffer.from(fragment!.slice(2), "base64url");
    key[0] = key[0]! ^ 1;
    await expect(readShared(`${base}#k=${key.toString("base64url")}`)).rejects.toThrow(DecryptionFailedError);
    await expect(readShared(`${base}#k=short`)).rejects.toThrow(DecryptionFailedError);
    await expect(readShared(base!)).rejects.toThrow(DecryptionFailedError);
    // the key of one share does not open another
    await expect(readShared(`${other.url.split("#")[0]}#${fragment}`)).rejects.toThrow(DecryptionFailedError);
  });

  it("plain bundles (encrypt: false) need no key, and are refused under a URL that carries one", async () => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    const { url } = await saver.share(config, { expiresIn: 600, encrypt: false });
    expect(url).not.toContain("#");
    expect((await readShared(url)).checkpoint.id).toBe((await saver.getTuple(config))!.checkpoint.id);
    const encrypted = await saver.share(config, { expiresIn: 600 });
    // a plain bundle put where a keyed URL expects an encrypted one is a downgrade: refused
    await expect(readShared(`${url}#${encrypted.url.split("#")[1]}`)).rejects.toThrow(DecryptionFailedError);
  });

  it("check their arguments", async () => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    for (const expiresIn of [0, -1, 1.5, 7 * 24 * 3600 + 1, Number.NaN, undefined]) {
      await expect(saver.share(config, { expiresIn } as never)).rejects.toThrow(InvalidArgumentError);
    }
    await expect(saver.share(config, { expiresIn: 60, history: -1 })).rejects.toThrow(InvalidArgumentError);
    await expect(saver.share({ configurable: {} }, { expiresIn: 60 })).rejects.toThrow(InvalidArgumentError);
    await expect(saver.share({ configurable: { thread_id: "none" } }, { expiresIn: 60 })).rejects.toThrow(
      CheckpointNotFoundError,
    );
    await expect(saver.revokeShare("../threads/t-1")).rejects.toThrow(InvalidArgumentError);
    const { url } = await saver.share(config, { expiresIn: 7 * 24 * 3600 });
    await expect(importShared(url, { into: new MemorySaver(), threadId: undefined as never })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("log each share and revoke without the URL's signature or key", async () => {
    const lines: string[] = [];
    const logger: Logger = {
      debug() {},
      info: (o, m) => lines.push(`${m} ${JSON.stringify(o)}`),
      warn() {},
      error() {},
    };
    const saver = saverOn(buckets.unversioned, { logger });
    const config = await paused(saver);
    const { url, shareId } = await saver.share(config, { expiresIn: 60, history: 1 });
    await saver.revokeShare(shareId);
    const shared = lines.find((l) => l.startsWith("shared a checkpoint"))!;
    expect(shared).toContain(shareId);
    expect(shared).toContain('"threadId":"t-1"');
    expect(shared).toContain('"checkpointId"');
    expect(shared).toContain('"expiresAt"');
    expect(lines.find((l) => l.startsWith("revoked a share"))).toContain(shareId);
    const secrets = [new URL(url).searchParams.get("X-Amz-Signature")!, url.split("#k=")[1]!];
    for (const line of lines) for (const secret of secrets) expect(line).not.toContain(secret);
  });

  it("carry the checkpoints of a subgraph paused under the shared one, so the run continues inside it [needs a store that lists common prefixes]", async (ctx) => {
    const saver = saverOn(buckets.unversioned);
    let prepared = 0;
    const review = new StateGraph(State)
      .addNode("prep", () => {
        prepared += 1;
        return { notes: ["prepared"] };
      })
      .addNode("ask", () => ({ notes: [`approved: ${String(interrupt("approve?"))}`] }))
      .addEdge(START, "prep")
      .addEdge("prep", "ask")
      .addEdge("ask", END)
      .compile();
    const nested = (c: BaseCheckpointSaver) =>
      new StateGraph(State)
        .addNode("research", (st) => ({ notes: [`${st.topic} found`] }))
        .addNode("review", review)
        .addNode("write", (st) => ({ notes: [`report from ${st.notes.length} notes`] }))
        .addEdge(START, "research")
        .addEdge("research", "review")
        .addEdge("review", "write")
        .addEdge("write", END)
        .compile({ checkpointer: c });
    const config = { configurable: { thread_id: "nested" } };
    await nested(saver).invoke({ topic: "tides" }, config);
    let folders = 0;
    for await (const page of saver.store.listFolders(saver.layout.namespaces("nested"))) folders += page.length;
    // s3rver answers a `/`-delimited listing without its common prefixes, so no subgraph is found there
    if (folders === 0) ctx.skip();
    const { url } = await saver.share(config, { expiresIn: 600 });
    const memory = new MemorySaver();
    await importShared(url, { into: memory, threadId: "copy" });
    const copyConfig = { configurable: { thread_id: "copy" } };
    const pausedThere = await nested(memory).getState(copyConfig, { subgraphs: true });
    expect(pausedThere.tasks[0]?.interrupts[0]?.value).toBe("approve?");
    prepared = 0;
    const there = await nested(memory).invoke(new Command({ resume: "yes" }), copyConfig);
    const here = await nested(saver).invoke(new Command({ resume: "yes" }), config);
    expect(there).toEqual(here);
    expect(here.notes).toContain("approved: yes");
    expect(prepared).toBe(0); // on neither side did the subgraph start again: it resumed at its interrupt
  });
});

describe("bundles are checked before anything is written", () => {
  it("a bundle larger than the bound is refused while it downloads", async () => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    const { url } = await saver.share(config, { expiresIn: 600, history: 2 });
    const target = new MemorySaver();
    await expect(importShared(url, { into: target, threadId: "x", maxBytes: 64 })).rejects.toThrow(
      CheckpointCorruptedError,
    );
    expect(isEmpty(target)).toBe(true);
    // a server that declares no length (or a wrong one): the count of streamed bytes decides
    let pulled = 0;
    const endless: typeof fetch = async () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            pulled += 64 * 1024;
            controller.enqueue(new Uint8Array(64 * 1024));
          },
        }),
      );
    await expect(
      importShared(url, { into: target, threadId: "x", maxBytes: 1024 * 1024, fetch: endless }),
    ).rejects.toThrow(CheckpointCorruptedError);
    expect(pulled).toBeLessThan(4 * 1024 * 1024);
    expect(isEmpty(target)).toBe(true);
  });

  it.each([
    ["plain", false, CheckpointCorruptedError],
    ["encrypted", true, DecryptionFailedError],
  ])("a malformed or altered %s bundle is refused", async (_kind, encrypt, altered) => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver);
    const { url, shareId } = await saver.share(config, { expiresIn: 600, encrypt });
    const key = saver.layout.shareBundle(shareId);
    const stored = Buffer.from(
      await (
        await client.send(new GetObjectCommand({ Bucket: buckets.unversioned, Key: key }))
      ).Body!.transformToByteArray(),
    );
    const target = new MemorySaver();
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 20] = flipped[flipped.length - 20]! ^ 1;
    const cases: [Buffer, unknown][] = [
      [Buffer.from("not a bundle"), CheckpointCorruptedError],
      [Buffer.alloc(0), CheckpointCorruptedError],
      [Buffer.from("LGS3\u0002garbage"), CheckpointCorruptedError],
      [stored.subarray(0, stored.length - 10), altered],
      [flipped, altered],
    ];
    for (const [body, error] of cases) {
      await client.send(new PutObjectCommand({ Bucket: buckets.unversioned, Key: key, Body: body }));
      await expect(importShared(url, { into: target, threadId: "x" })).rejects.toThrow(error as typeof Error);
    }
    expect(isEmpty(target)).toBe(true);
  });
});

describeWithVersioning("sharing from history", () => {
  it("a revoked share on a versioned bucket leaves no version behind", async () => {
    const saver = saverOn(buckets.versioned);
    await saver.setup();
    const config = await paused(saver);
    const share = await saver.share(config, { expiresIn: 600 });
    // a second write of the bundle key leaves an older version behind it
    const key = saver.layout.shareBundle(share.shareId);
    const stored = Buffer.from(
      await (
        await client.send(new GetObjectCommand({ Bucket: buckets.versioned, Key: key }))
      ).Body!.transformToByteArray(),
    );
    await client.send(new PutObjectCommand({ Bucket: buckets.versioned, Key: key, Body: stored }));
    expect((await allVersions(client, buckets.versioned, saver.layout.sharesRoot)).length).toBe(3);
    expect(await saver.revokeShare(share.shareId)).toBe(true);
    expect(await allVersions(client, buckets.versioned, saver.layout.sharesRoot)).toEqual([]);
    await expect(readShared(share.url)).rejects.toMatchObject({ reason: "not-found", status: 404 });
  });

  it("the revoke cycle, on a versioned bucket", () => revokes(buckets.versioned));

  it("purgeThread revokes the thread's shares (a bundle is a copy of its state); others' stay", async () => {
    const saver = saverOn(buckets.versioned);
    const mine = await saver.share(await paused(saver, "erase-me"), { expiresIn: 600 });
    const plain = await saver.share(await paused(saver, "erase-me"), { expiresIn: 600, encrypt: false });
    const theirs = await saver.share(await paused(saver, "keep-me"), { expiresIn: 600 });
    const report = await saver.purgeThread("erase-me");
    expect(report).toMatchObject({ failed: 0, sharesRevoked: 2 });
    for (const url of [mine.url, plain.url])
      expect(await rejection(readShared(url))).toBeInstanceOf(ShareUnavailableError);
    expect((await readShared(theirs.url)).config.configurable?.thread_id).toBe("keep-me");
    const left = [];
    for await (const s of saver.listShares()) left.push(s.threadId);
    expect(left).toEqual(["keep-me"]);
    const versions = await allVersions(client, buckets.versioned);
    expect(versions.filter((v) => v.Key?.includes(mine.shareId) || v.Key?.includes(plain.shareId))).toEqual([]);
  });

  it("a checkpoint named by its version id is shared, with its ancestors, after its thread was deleted", async () => {
    const saver = saverOn(buckets.versioned);
    await saver.setup();
    const config = await paused(saver, "gone");
    const tuple = (await saver.getTuple(config))!;
    const versionId = tuple.config.configurable!.s3_version_id as string;
    expect(versionId).toBeTruthy();
    await saver.deleteThread("gone");
    expect(await saver.getTuple(config)).toBeUndefined();
    const { url } = await saver.share(
      { configurable: { thread_id: "gone", s3_version_id: versionId } },
      { expiresIn: 600, history: 10 },
    );
    const target = new MemorySaver();
    await importShared(url, { into: target, threadId: "back" });
    const back = (await target.getTuple({ configurable: { thread_id: "back" } }))!;
    // MemorySaver counts versions in numbers: the import gives it the counters of ours
    expect(back.checkpoint.id).toBe(tuple.checkpoint.id);
    expect(back.checkpoint.channel_values).toEqual(tuple.checkpoint.channel_values);
    expect(Object.values(back.checkpoint.channel_versions).every((v) => typeof v === "number")).toBe(true);
    let count = 0;
    for await (const _t of target.list({ configurable: { thread_id: "back" } })) count += 1;
    expect(count).toBeGreaterThan(2); // the whole chain, which is shorter than 10
    const result = await agent(target).invoke(new Command({ resume: "yes" }), { configurable: { thread_id: "back" } });
    expect(result.notes.at(-1)).toMatch(/^report on tides/);
  });

  it("setup installs the lifecycle rule that expires bundles", async () => {
    const saver = saverOn(buckets.versioned);
    await saver.setup({ lifecycle: {} });
    const rules = await saver.store.getLifecycleRules();
    const shares = rules.find((r) => r.Filter?.Prefix === saver.layout.sharesRoot);
    expect(shares?.Expiration?.Days).toBe(8);
  });
});

describe("a shared run continues anywhere (differential)", () => {
  it.each([
    ["MemorySaver", async () => new MemorySaver()],
    ["a second S3Checkpointer", async () => saverOn(buckets.unversioned)],
  ])("imported into %s, the graph finishes with the state of the run that never left", async (_name, target) => {
    const saver = saverOn(buckets.unversioned);
    const config = await paused(saver, "origin");
    const { url } = await saver.share(config, { expiresIn: 600, history: 3 });

    const into = await target();
    const imported = await importShared(url, { into, threadId: "copy" });
    expect(imported.configurable).toMatchObject({ thread_id: "copy", checkpoint_ns: "" });
    const copy = agent(into);
    const copyConfig = { configurable: { thread_id: "copy" } };
    const stateThere = await copy.getState(copyConfig);
    expect(stateThere.next).toEqual(["approve"]);
    expect(stateThere.tasks[0]?.interrupts[0]?.value).toEqual({ question: "publish?" });

    const original = agent(saver);
    const finalHere = await original.invoke(new Command({ resume: "yes" }), config);
    const finalThere = await copy.invoke(new Command({ resume: "yes" }), copyConfig);
    expect(finalThere).toEqual(finalHere);
    expect((await copy.getState(copyConfig)).values).toEqual((await original.getState(config)).values);
    // importing again changes nothing
    await importShared(url, { into, threadId: "copy" });
    expect((await copy.getState(copyConfig)).values).toEqual(finalHere);
  });
});
