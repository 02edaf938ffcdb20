/**
 * Stored bodies against the real S3 server: old (version-1) objects stay readable, a body
 * copied onto another thread's key is refused, a decompression bomb under a record key is a
 * typed error in bounded time, and ids cut inside an emoji stay distinct threads.
 */
import { randomUUID } from "node:crypto";
import { CopyObjectCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { open } from "../../src/codec.js";
import { CheckpointCorruptedError, S3Checkpointer } from "../../src/index.js";
import { bucketsForFile, testClient } from "../helpers/s3.js";
import { compressedZerosFrame, envelopeV1, sha256Hex } from "../helpers/zstd-frames.js";

const client = testClient();
const { unversioned: bucket } = bucketsForFile("env", client);

const meta = { source: "loop" as const, step: 0, parents: {} };
function checkpoint(values: Record<string, unknown>): Checkpoint {
  const versions = Object.fromEntries(Object.keys(values).map((k) => [k, 1]));
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: values, channel_versions: versions };
}
async function saverOn() {
  const saver = new S3Checkpointer({ bucket, client, prefix: `t/${randomUUID()}/` });
  await saver.setup();
  return saver;
}
const config = (thread: string) => ({ configurable: { thread_id: thread, checkpoint_ns: "" } });
async function body(key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}
async function put(key: string, data: Buffer) {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
}

describe("stored envelopes", () => {
  it("reads a record stored in the version-1 format", async () => {
    const saver = await saverOn();
    const cp = checkpoint({ topic: "rivers" });
    await saver.put(config("old"), cp, meta, { topic: 1 });
    const key = saver.layout.record("old", "", cp.id);
    const { plaintext } = await open(await body(key), { key });
    await put(key, envelopeV1(plaintext, { c: "none", n: plaintext.length, h: sha256Hex(plaintext) }));
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.layout.prefix }); // no cache of the write
    const tuple = await fresh.getTuple(config("old"));
    expect(tuple?.checkpoint.channel_values).toEqual({ topic: "rivers" });
  });

  it("refuses a victim's record copied onto an intruder's key, naming the key", async () => {
    const saver = await saverOn();
    const cp = checkpoint({ secret: "victim's plan" });
    await saver.put(config("victim"), cp, meta, { secret: 1 });
    const source = saver.layout.record("victim", "", cp.id);
    const target = saver.layout.record("intruder", "", cp.id);
    await client.send(new CopyObjectCommand({ Bucket: bucket, Key: target, CopySource: `${bucket}/${source}` }));
    const error = await saver.getTuple(config("intruder")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointCorruptedError);
    expect((error as Error).message).toContain(target);
    expect((await saver.getTuple(config("victim")))?.checkpoint.channel_values).toEqual({ secret: "victim's plan" });
  });

  it("a 1 GiB zstd bomb under a record key is a CheckpointCorruptedError within a second", async () => {
    const saver = await saverOn();
    const cp = checkpoint({ x: 1 });
    const key = saver.layout.record("bombed", "", cp.id);
    const rssBefore = process.memoryUsage().rss;
    // version 1: no key binding to check first, so the bounds alone must stop it
    await put(key, envelopeV1(compressedZerosFrame(8192), { c: "zstd", n: 1024 * 1024, h: sha256Hex("x") }));
    const started = performance.now();
    const error = await saver.getTuple(config("bombed")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointCorruptedError);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 * 1024 * 1024);
  });

  it("keeps threads whose ids are cut inside an emoji apart, for reads and deletes", async () => {
    const saver = await saverOn();
    const emoji = "🙂";
    const ids = [emoji[0]!, emoji[1]!, "\uFFFD"];
    for (const id of ids) await saver.put(config(id), checkpoint({ owner: id }), meta, { owner: 1 });
    for (const id of ids) expect((await saver.getTuple(config(id)))?.checkpoint.channel_values).toEqual({ owner: id });
    await saver.deleteThread(ids[0]!);
    expect(await saver.getTuple(config(ids[0]!))).toBeUndefined();
    for (const id of ids.slice(1))
      expect((await saver.getTuple(config(id)))?.checkpoint.channel_values).toEqual({ owner: id });
  });
});
