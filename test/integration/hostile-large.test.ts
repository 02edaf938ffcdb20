/**
 * An attacker's pass over large states against the real S3 server: someone who may write the
 * bucket puts hand-made bodies under the keys of a thread. Each read must end in a typed error
 * (CheckpointCorruptedError, DecryptionFailedError), quickly and in bounded memory, and the
 * thread's other checkpoints (and other threads) must stay readable.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import {
  maxEnvelopeBytes,
  open,
  sealStream,
  wasmZstdCompress,
  zstdCompress,
  zstdImplementation,
} from "../../src/codec.js";
import { CheckpointCorruptedError, DecryptionFailedError, S3Checkpointer, generateKey } from "../../src/index.js";
import { resolveCompression } from "../../src/options.js";
import { watch } from "../helpers/watch.js";
import { pack, unpack, type RecordHead } from "../../src/record.js";
import { bucketsForFile, testClient } from "../helpers/s3.js";
import { envelopeV2, sha256Hex } from "../helpers/zstd-frames.js";

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
async function rawGet(key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}
async function rawPut(key: string, body: Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}
async function bytesRead(saver: S3Checkpointer): Promise<number> {
  const metric = await saver.metrics.registry!.getSingleMetric("langgraph_s3_s3_read_bytes_total")!.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}
/** A copy of an envelope with its header changed (and its header digest made anew, as anyone can). */
function withHeader(body: Buffer, change: (header: Record<string, unknown>) => void): Buffer {
  const length = body.readUInt32BE(5);
  const header = JSON.parse(body.subarray(9, 9 + length).toString("utf8")) as Record<string, unknown>;
  change(header);
  return envelopeV2(body.subarray(9 + length + 32), header);
}

/** Bounds with room for a busy 2-core machine (what they catch took seconds to hours). */
const MAX_MS = 2000;
const MAX_LAG_MS = 500;

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

  it("under a thread's tombstone (read beside every listing): refused unread, the thread still read", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const saver = saverOn(prefix);
    const cp = checkpoint({ doc: "x".repeat(10_000) });
    await saver.put(config("t"), cp, meta, { doc: 1 });
    await rawPut(saver.layout.tombstone("t"), Buffer.alloc(32 * MiB, 1));
    const reader = saverOn(prefix);
    const before = await bytesRead(reader);
    expect((await reader.getTuple(config("t")))?.checkpoint.channel_values).toEqual(cp.channel_values);
    expect((await bytesRead(reader)) - before).toBeLessThan(MiB);
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
    expect(w.rssGrowthBytes).toBeLessThan(24 * MiB);
    expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
    expect((w.error as Error).message).toMatch(/bytes long, more than an object within maxObjectBytes/);
  });
});

/** An empty frame that declares so (single segment, a 1-byte size of 0): 9 bytes. */
const EMPTY_FRAME = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00]);
function blockHeader(last: boolean, type: number, size: number): Buffer {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]);
}

describe(`hostile zstd payloads under a value's key (zstd via ${zstdImplementation})`, () => {
  it("each is a CheckpointCorruptedError within a second, the thread's other checkpoint still read", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const saver = saverOn(prefix);
    const first = checkpoint({ doc: "x".repeat(10_000) });
    const firstConfig = await saver.put(config("t"), first, meta, { doc: 1 });
    // a large value: a small one's envelope leaves no room for a hostile payload (its bound)
    const large = "y".repeat(4 * MiB);
    const second = { ...checkpoint({ doc: large }), channel_versions: { doc: 2 } };
    await saver.put(firstConfig, second, meta, { doc: 2 });
    const key = saver.layout.blob("t", "", "doc", 2);
    const original = await rawGet(key);
    // the value's own plaintext (JSON: "yyy…"), so that nothing but the zstd payload is wrong
    const { plaintext: content } = await open(original, { key });
    const frame = await zstdCompress(content, 3);
    const sealed = (payload: Buffer, n = content.length) =>
      envelopeV2(payload, { c: "zstd", n, h: sha256Hex(content), k: sha256Hex(key), t: "json" });
    const quote = Buffer.concat([blockHeader(false, 0, 1), Buffer.from('"')]);
    const ys = (count: number, size: number, last = false) =>
      Array.from({ length: count }, (_, i) =>
        Buffer.concat([blockHeader(last && i === count - 1, 1, size), Buffer.from("y")]),
      );
    const bodies: Record<string, Buffer> = {
      // 200,000 empty frames after the content: 18 s of the thread pool on Node 24 (hours at
      // maxObjectBytes)
      "many empty frames": sealed(Buffer.concat([frame, ...Array<Buffer>(200_000).fill(EMPTY_FRAME)])),
      // 20,000 one-byte blocks in an 8 MiB window: fzstd moves the window for each (7 s on Node 20)
      "one-byte blocks": sealed(
        Buffer.concat([
          Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3]),
          quote,
          ...ys(20_000, 1),
          ...ys(31, 128 * 1024),
          ...ys(1, 128 * 1024 - 20_000),
          blockHeader(true, 0, 1),
          Buffer.from('"'),
        ]),
      ),
      // a window one step above the cap (9 MiB)
      "window above the cap": sealed(
        Buffer.concat([
          Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (13 << 3) | 1]),
          quote,
          ...ys(32, 128 * 1024),
          blockHeader(true, 0, 1),
          Buffer.from('"'),
        ]),
      ),
      // the largest plaintext an object may declare, from a 9-byte frame
      "n at maxObjectBytes, tiny body": sealed(EMPTY_FRAME, 256 * MiB),
    };
    const reader = saverOn(prefix);
    for (const [name, body] of Object.entries(bodies)) {
      await rawPut(key, body);
      const w = await watch(() => reader.getTuple(config("t")));
      expect(w.error, name).toBeInstanceOf(CheckpointCorruptedError);
      expect((w.error as CheckpointCorruptedError).key, name).toBe(key);
      expect(w.ms, name).toBeLessThan(MAX_MS);
      expect(w.maxLagMs, name).toBeLessThan(MAX_LAG_MS);
      expect(w.rssGrowthBytes, name).toBeLessThan(64 * MiB);
    }
    // the first checkpoint needs none of it; the second reads again once its value is back
    expect((await reader.getTuple(firstConfig))?.checkpoint.channel_values).toEqual({ doc: "x".repeat(10_000) });
    await rawPut(key, original);
    expect(
      ((await saverOn(prefix).getTuple(config("t")))?.checkpoint.channel_values as { doc: string }).doc === large,
    ).toBe(true);
  }, 60_000);

  it("a frame without a content size among sized ones reads; sizes that add up over blocks that do not are refused", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const saver = saverOn(prefix);
    const value = Array.from({ length: 200_000 }, (_, i) => `line ${i}`).join("\n");
    const cp = checkpoint({ doc: value });
    await saver.put(config("t"), cp, meta, { doc: 1 });
    const key = saver.layout.blob("t", "", "doc", 1);
    const { plaintext: content } = await open(await rawGet(key), { key });
    const sealed = (payload: Buffer) =>
      envelopeV2(payload, { c: "zstd", n: content.length, h: sha256Hex(content), k: sha256Hex(key), t: "json" });
    const half = content.length >> 1;
    const sized = await zstdCompress(content.subarray(0, half), 3);
    // zstd-codec's streaming path (above 1 MiB) writes no content size; below, one-shot does
    const unsized = await wasmZstdCompress([content.subarray(half, half + MiB), content.subarray(half + MiB)], 3);
    await rawPut(key, sealed(Buffer.concat([sized, unsized])));
    const read = async () =>
      ((await saverOn(prefix).getTuple(config("t")))?.checkpoint.channel_values as { doc: string }).doc;
    expect((await read()) === value).toBe(true);
    // the first frame declares 1 MiB less than it holds, an empty last frame 1 MiB more: the sizes
    // add up, the blocks (raw, of known size) do not
    const rawBlocks: Buffer[] = [];
    for (let at = 0; at < content.length; at += 128 * 1024) {
      const block = content.subarray(at, at + 128 * 1024);
      rawBlocks.push(blockHeader(at + block.length === content.length, 0, block.length), block);
    }
    const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x80, 13 << 3, 0, 0, 0, 0]); // a 4-byte content size
    header.writeUInt32LE(content.length - MiB, 6);
    const whole = Buffer.concat([header, ...rawBlocks]);
    const lying = Buffer.concat([
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xa0]),
      Buffer.alloc(4),
      blockHeader(true, 0, 0),
    ]);
    lying.writeUInt32LE(MiB, 5);
    await rawPut(key, sealed(Buffer.concat([whole, lying])));
    await expect(read()).rejects.toThrow(CheckpointCorruptedError);
  }, 60_000);
});

describe("a large encrypted state (streamed, 1 MiB authenticated chunks) altered in the bucket", () => {
  const ring = { keys: { a: generateKey() }, currentKeyId: "a" };
  const stride = (1 << 20) + 16;

  it("chunks duplicated or added after the last, header fields changed, a plaintext body: DecryptionFailedError", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const saver = saverOn(prefix, { encryption: ring });
    const first = checkpoint({ doc: "x".repeat(10_000) });
    const firstConfig = await saver.put(config("t"), first, meta, { doc: 1 });
    // 9 MiB of state, little of it compressible: two zstd frames, seven chunks or so
    const large = randomBytes(6.75 * MiB).toString("base64");
    const second = { ...checkpoint({ doc: large }), channel_versions: { doc: 2 } };
    await saver.put(firstConfig, second, meta, { doc: 2 });
    const key = saver.layout.blob("t", "", "doc", 2);
    const original = await rawGet(key);
    const start = 9 + original.readUInt32BE(5) + 32;
    const chunks = Math.ceil((original.length - start) / stride);
    expect(chunks).toBeGreaterThan(4);
    const chunk = (i: number) => original.subarray(start + i * stride, start + (i + 1) * stride);
    const head = original.subarray(0, start);
    const plainBody = await sealStream(Buffer.from(JSON.stringify(large)), {
      compression: resolveCompression({}),
      key,
      type: "json",
    });
    const streamed: Uint8Array[] = [];
    if (Buffer.isBuffer(plainBody.body)) streamed.push(plainBody.body);
    else for await (const piece of plainBody.body.stream()) streamed.push(piece);
    const bodies: Record<string, Buffer> = {
      "chunk 2 where chunk 3 was": Buffer.concat([
        head,
        ...[0, 1, 2, 2].map(chunk),
        original.subarray(start + 4 * stride),
      ]),
      "the last chunk twice": Buffer.concat([original, chunk(chunks - 1)]),
      "the first chunk again after the last": Buffer.concat([original, chunk(0)]),
      "chunk size 4096": withHeader(original, (h) => ((h.e as Record<string, string>).cs = "4096")),
      "chunk size 1": withHeader(original, (h) => ((h.e as Record<string, string>).cs = "1")),
      "another nonce": withHeader(original, (h) => ((h.e as Record<string, string>).iv = "AAAAAAAAAAAAAAAA")),
      "another serde type": withHeader(original, (h) => (h.t = "bytes")),
      "another declared length": withHeader(original, (h) => (h.n = (h.n as number) - 1)),
      "encryption metadata removed": withHeader(original, (h) => delete h.e),
      // a correctly sealed, key-bound body of the very same state, without encryption
      "the same state, not encrypted": Buffer.concat(streamed),
    };
    const reader = saverOn(prefix, { encryption: { ...ring, required: true } });
    for (const [name, body] of Object.entries(bodies)) {
      await rawPut(key, body);
      const w = await watch(() => reader.getTuple(config("t")));
      expect(w.error, name).toBeInstanceOf(DecryptionFailedError);
      expect(w.ms, name).toBeLessThan(MAX_MS);
      expect(w.rssGrowthBytes, name).toBeLessThan(96 * MiB);
    }
    expect((await reader.getTuple(firstConfig))?.checkpoint.channel_values).toEqual({ doc: "x".repeat(10_000) });
    // where plaintext objects are read (not `required`), one of other content than the encrypted
    // record names is refused: the record, which the attacker cannot alter, names its digest
    const other = await sealStream(Buffer.from(JSON.stringify(large.replace(/^./, "!"))), {
      compression: resolveCompression({}),
      key,
      type: "json",
    });
    const otherBody: Uint8Array[] = [];
    if (Buffer.isBuffer(other.body)) otherBody.push(other.body);
    else for await (const piece of other.body.stream()) otherBody.push(piece);
    await rawPut(key, Buffer.concat(otherBody));
    await expect(saverOn(prefix, { encryption: ring }).getTuple(config("t"))).rejects.toThrow(CheckpointCorruptedError);
    await rawPut(key, original);
    const back = (await saverOn(prefix, { encryption: ring }).getTuple(config("t")))?.checkpoint.channel_values;
    expect((back as { doc: string }).doc === large).toBe(true);
  }, 60_000);
});

describe("a value object whose header names another serde type", () => {
  it("is a typed error, never an untyped one, and never another channel's or thread's value", async () => {
    const prefix = `hostile/${randomUUID()}/`;
    const saver = saverOn(prefix);
    const cp = checkpoint({ doc: "d".repeat(1000), other: "o".repeat(1000) });
    await saver.put(config("t"), cp, meta, { doc: 1, other: 1 });
    await saver.put(config("u"), cp, meta, { doc: 1, other: 1 });
    const key = saver.layout.blob("t", "", "doc", 1);
    const original = await rawGet(key);
    const read = () => saverOn(prefix).getTuple(config("t"));
    for (const t of ["no-such-type", "__proto__", "constructor"]) {
      await rawPut(
        key,
        withHeader(original, (h) => (h.t = t)),
      );
      const error = await read().catch((e: unknown) => e);
      expect(error, t).toBeInstanceOf(CheckpointCorruptedError);
    }
    // the same content under another channel's key, and another thread's: refused by the binding
    for (const from of [saver.layout.blob("t", "", "other", 1), saver.layout.blob("u", "", "doc", 1)]) {
      await rawPut(key, await rawGet(from));
      await expect(read()).rejects.toThrow(CheckpointCorruptedError);
    }
    await rawPut(key, original);
    expect((await read())?.checkpoint.channel_values).toEqual(cp.channel_values);
    // a record whose checkpoint, or inline value, is not what its serde type says (the record
    // sealed anew, as anyone who may write the bucket can)
    const recordKey = saver.layout.record("t", "", cp.id);
    const record = await rawGet(recordKey);
    const { plaintext } = await open(record, { key: recordKey });
    const { head, sections } = unpack<RecordHead>(plaintext, "checkpoint", recordKey);
    for (const change of [
      (h: RecordHead) => void (h.checkpoint.type = "no-such-type"),
      (h: RecordHead, s: Buffer[]) => void s.splice(h.metadata.s, 1, Buffer.from("{not json")),
    ]) {
      const h = structuredClone(head);
      const s = sections.map((b) => Buffer.from(b));
      change(h, s);
      const body = pack(h, s);
      await rawPut(
        recordKey,
        envelopeV2(body, { c: "none", n: body.length, h: sha256Hex(body), k: sha256Hex(recordKey) }),
      );
      await expect(read()).rejects.toThrow(CheckpointCorruptedError);
    }
  });
});
