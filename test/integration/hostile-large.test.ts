/**
 * An attacker's pass over large states against the real S3 server: someone who may write the
 * bucket puts hand-made bodies under the keys of a thread. Each read must end in a typed error
 * (CheckpointCorruptedError, DecryptionFailedError), quickly and in bounded memory, and the
 * thread's other checkpoints (and other threads) must stay readable.
 */
import { randomUUID } from "node:crypto";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { maxEnvelopeBytes } from "../../src/codec.js";
import { CheckpointCorruptedError, S3Checkpointer } from "../../src/index.js";
import { bucketsForFile, testClient } from "../helpers/s3.js";

const client = testClient();
const { unversioned: bucket } = bucketsForFile("hostile", client);
const meta = { source: "loop" as const, step: 0, parents: {} };
const MiB = 1024 * 1024;
const config = (thread: string) => ({ configurable: { thread_id: thread, checkpoint_ns: "" } });

function checkpoint(values: Record<string, unknown>): Checkpoint {
  const versions = Object.fromEntries(Object.keys(values).map((k) => [k, 1]));
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: values, channel_versions: versions };
}
function saverOn(prefix: string, extra: Record<string, unknown> = {}, on: S3Client = client) {
  return new S3Checkpointer({ bucket, client: on, prefix, inlineThresholdBytes: 64, ...extra });
}
async function rawPut(key: string, body: Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}
async function bytesRead(saver: S3Checkpointer): Promise<number> {
  const metric = await saver.metrics.registry!.getSingleMetric("langgraph_s3_s3_read_bytes_total")!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}
/** Runs `read` timing it, watching the event loop and the resident set. */
async function watch(read: () => Promise<unknown>) {
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  let last = performance.now();
  let maxLagMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last);
    last = now;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);
  const started = performance.now();
  const error = await read().then(
    () => undefined,
    (e: unknown) => e,
  );
  const ms = performance.now() - started;
  clearInterval(ticker);
  return { error, ms, maxLagMs: Math.max(maxLagMs, performance.now() - last), rssGrowth: peakRss - baseRss };
}

/** Bounds with room for a busy 2-core machine (what they catch took seconds to hours). */
const MAX_MS = 2000;

describe("bodies longer than an object may be", () => {
  it("are refused from their Content-Length, unread; the bound itself still reaches the envelope", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const maxObjectBytes = 64 * 1024;
    const saver = saverOn(prefix, { maxObjectBytes });
    const first = checkpoint({ doc: "x".repeat(10_000) });
    const firstConfig = await saver.put(config("t"), first, meta, { doc: 1 });
    const second = { ...checkpoint({ doc: "y".repeat(10_000) }), channel_versions: { doc: 2 } };
    await saver.put(firstConfig, second, meta, { doc: 2 });
    const key = saver.layout.blob("t", "", "doc", 2);
    const bound = maxEnvelopeBytes(maxObjectBytes);
    const reader = saverOn(prefix, { maxObjectBytes });
    // 32 MiB where a 10 kB value was: the read fails without downloading it
    await rawPut(key, Buffer.alloc(32 * MiB, 1));
    const before = await bytesRead(reader);
    const w = await watch(() => reader.getTuple(config("t")));
    expect((await bytesRead(reader)) - before).toBeLessThan(64 * 1024);
    expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
    expect((w.error as CheckpointCorruptedError).key).toBe(key);
    expect((w.error as Error).message).toMatch(/33554432 bytes long, more than an object within maxObjectBytes/);
    expect(w.ms).toBeLessThan(MAX_MS);
    // one byte over the bound: refused from its length; the bound itself: read, and refused as
    // an envelope (it is none)
    await rawPut(key, Buffer.alloc(bound + 1, 1));
    await expect(reader.getTuple(config("t"))).rejects.toThrow(/bytes long, more than an object/);
    await rawPut(key, Buffer.alloc(bound, 1));
    await expect(reader.getTuple(config("t"))).rejects.toThrow(/missing envelope magic/);
    // the thread's first checkpoint does not need that object
    const earlier = await reader.getTuple(firstConfig);
    expect(earlier?.checkpoint.channel_values).toEqual({ doc: "x".repeat(10_000) });
  });

  it("without a Content-Length, are refused as soon as the bound is passed", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const maxObjectBytes = 64 * 1024;
    const saver = saverOn(prefix, { maxObjectBytes });
    const cp = checkpoint({ doc: "x".repeat(10_000) });
    await saver.put(config("t"), cp, meta, { doc: 1 });
    const key = saver.layout.blob("t", "", "doc", 1);
    await rawPut(key, Buffer.alloc(32 * MiB, 1));
    // a store (or a proxy) that answers without a length
    const lengthless = testClient();
    lengthless.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        const response = out.response as { headers?: Record<string, string> };
        if (response.headers) delete response.headers["content-length"];
        return out;
      },
      { step: "deserialize", name: "dropContentLength" },
    );
    const reader = saverOn(prefix, { maxObjectBytes }, lengthless);
    const before = await bytesRead(reader);
    const w = await watch(() => reader.getTuple(config("t")));
    expect((await bytesRead(reader)) - before).toBeLessThan(64 * 1024);
    expect(w.rssGrowth).toBeLessThan(24 * MiB);
    expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
    expect((w.error as Error).message).toMatch(/bytes long, more than an object within maxObjectBytes/);
  });
});
