import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  STREAM_FRAME_BYTES,
  jsZstdDecompress,
  open,
  seal,
  sealStream,
  zstdDecompress,
  type StreamedBody,
} from "../../src/codec.js";
import { resolveCompression } from "../../src/options.js";
import { inspectZstdFrames, slices, zstdCompress, zstdFrames, zstdImplementation } from "../../src/zstd.js";
import { compressedZerosFrame } from "../helpers/zstd-frames.js";
import { CHUNK_BYTES, createCipher, generateKey } from "../../src/crypto.js";
import { DecryptionFailedError } from "../../src/errors.js";

const ring = createCipher({ keys: { a: generateKey() }, currentKeyId: "a" });

async function drain(body: Buffer | StreamedBody): Promise<Buffer> {
  if (Buffer.isBuffer(body)) return body;
  const chunks: Buffer[] = [];
  for await (const chunk of body.stream()) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Text that compresses, in two parts (as a record's head and a section come). */
function plaintext(bytes: number): Buffer[] {
  const line = Buffer.from(`{"role":"tool","content":"result ${randomBytes(4).toString("hex")} of the search"}\n`);
  const whole = Buffer.alloc(bytes);
  for (let at = 0; at < bytes; at += line.length) line.copy(whole, at);
  return [whole.subarray(0, 1000), whole.subarray(1000)];
}

describe("large plaintexts are sealed as a stream of zstd frames", () => {
  const key = "threads/t/b/~/doc/1";

  it("reads back as one envelope, of several frames, each made anew for each pass", async () => {
    const parts = plaintext(2 * STREAM_FRAME_BYTES + 12345);
    const expected = Buffer.concat(parts);
    const sealed = await sealStream(parts, { compression: resolveCompression({}), key, type: "json" });
    expect(Buffer.isBuffer(sealed.body)).toBe(false);
    const body = await drain(sealed.body);
    // a second pass (a retried upload) makes the same bytes
    expect((await drain(sealed.body)).equals(body)).toBe(true);
    const opened = await open(body, { key });
    expect(opened.plaintext.equals(expected)).toBe(true);
    expect(opened.header.t).toBe("json");
    expect(opened.sha256).toBe(sealed.plaintextSha256);
    // one frame per STREAM_FRAME_BYTES of plaintext, read by both decoders
    // prelude (9 bytes), header JSON, header digest (32 bytes), then the payload
    const payload = body.subarray(9 + body.readUInt32BE(5) + 32);
    expect(inspectZstdFrames(payload, expected.length).frameEnds).toHaveLength(3);
    expect((await jsZstdDecompress(payload, expected.length)).equals(expected)).toBe(true);
    expect((await zstdDecompress(payload, expected.length)).equals(expected)).toBe(true);
    await expect(zstdDecompress(payload, expected.length - 1)).rejects.toThrow();
    await expect(zstdDecompress(payload, expected.length + 1)).rejects.toThrow();
  });

  it("without compression, streams the plaintext itself", async () => {
    const parts = plaintext(STREAM_FRAME_BYTES + 10);
    const sealed = await sealStream(parts, { compression: resolveCompression({ codec: "none" }), key });
    const opened = await open(await drain(sealed.body), { key });
    expect(opened.plaintext.equals(Buffer.concat(parts))).toBe(true);
  });

  it("seals small plaintexts whole, as seal does", async () => {
    const small = Buffer.from("small");
    const sealed = await sealStream(small, { compression: resolveCompression({}), key });
    expect(Buffer.isBuffer(sealed.body)).toBe(true);
    expect((await open(sealed.body as Buffer, { key })).plaintext.equals(small)).toBe(true);
    const whole = await seal(small, { compression: resolveCompression({}), key });
    expect(whole.plaintextSha256).toBe(sealed.plaintextSha256);
    const encrypted = await sealStream(small, { compression: resolveCompression({}), key, cipher: ring });
    expect(Buffer.isBuffer(encrypted.body)).toBe(true);
  });

  it("cuts parts into groups of a given size without copying", () => {
    const a = Buffer.from("abcdefg");
    const b = Buffer.from("hij");
    const groups = [...slices([a, b], 4)].map((g) => Buffer.concat(g).toString());
    expect(groups).toEqual(["abcd", "efgh", "ij"]);
    expect([...slices([a], 7)].map((g) => g.length)).toEqual([1]);
    expect([...slices([], 4)]).toEqual([]);
  });
});

describe(`frames decoded several at a time, hashed as they come (zstd via ${zstdImplementation})`, () => {
  const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
  const decodedHash = async (payload: Uint8Array, n: number) => {
    const hash = createHash("sha256");
    const out = await zstdDecompress(payload, n, (chunk) => hash.update(chunk));
    return { out, digest: hash.digest("hex") };
  };

  it("frames that declare their sizes: the bytes in order, hashed in order, the sizes checked first", async () => {
    const parts = plaintext(3 * STREAM_FRAME_BYTES + 999);
    const expected = Buffer.concat(parts);
    const frames: Buffer[] = [];
    for await (const frame of zstdFrames(parts, 3, STREAM_FRAME_BYTES, 3)) frames.push(frame);
    expect(frames).toHaveLength(4);
    const payload = Buffer.concat(frames);
    const { out, digest } = await decodedHash(payload, expected.length);
    expect(out.equals(expected)).toBe(true);
    expect(digest).toBe(sha(expected));
    // frames read in another order are another plaintext: refused by the digest, not mixed up here
    const swapped = Buffer.concat([frames[1]!, frames[0]!, frames[2]!, frames[3]!]);
    expect(sha((await zstdDecompress(swapped, expected.length)) as Buffer)).not.toBe(sha(expected));
    for (const n of [expected.length - 1, expected.length + 1])
      await expect(zstdDecompress(payload, n)).rejects.toThrow(/^zstd input/);
  });

  it("frames without declared sizes are decoded one at a time, each bounded by what is left", async () => {
    // three frames of 1 MiB of zeros each, none declaring a content size
    const frame = compressedZerosFrame(8);
    const payload = Buffer.concat([frame, frame, frame]);
    const MiB = 1024 * 1024;
    const { out, digest } = await decodedHash(payload, 3 * MiB);
    expect(out.equals(Buffer.alloc(3 * MiB))).toBe(true);
    expect(digest).toBe(sha(Buffer.alloc(3 * MiB)));
    await expect(zstdDecompress(payload, 3 * MiB - 1)).rejects.toThrow(/^zstd input/);
    // a declared frame next to undeclared ones: one at a time too
    const declared = await zstdCompress(Buffer.alloc(MiB), 3);
    const mixed = Buffer.concat([declared, frame]);
    expect((await zstdDecompress(mixed, 2 * MiB)).equals(Buffer.alloc(2 * MiB))).toBe(true);
  });

  it("a frame whose compression failed is not an unhandled rejection when nobody reads it", async () => {
    const frames = zstdFrames([Buffer.alloc(10)], Number.NaN, 4, 2);
    // never read: the frames compressed ahead settle without anyone awaiting them
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(frames).toBeDefined();
  });
});

describe("large encrypted plaintexts are sealed as a stream of authenticated chunks", () => {
  const key = "threads/t/b/~/doc/1";
  const stride = CHUNK_BYTES + 16;

  it.each([
    ["compressed", resolveCompression({}), plaintext(2 * STREAM_FRAME_BYTES + 12345)],
    ["uncompressed, a whole number of chunks", resolveCompression({ codec: "none" }), plaintext(9 * CHUNK_BYTES)],
  ])("%s: streamed, read back, the same bytes on each pass", async (_label, compression, parts) => {
    const sealed = await sealStream(parts, { compression, key, type: "json", cipher: ring });
    expect(Buffer.isBuffer(sealed.body)).toBe(false);
    const body = await drain(sealed.body);
    expect((await drain(sealed.body)).equals(body)).toBe(true);
    expect(body.includes(parts[1]!.subarray(0, 64))).toBe(false);
    const expected = Buffer.concat(parts);
    const opened = await open(body, { key, cipher: ring });
    expect(opened.plaintext.equals(expected)).toBe(true);
    expect(opened.header.e).toMatchObject({ alg: "A256GCM-CHUNKED", kid: "a" });
    expect(opened.sha256).toBe(sealed.plaintextSha256);
    // decrypted in the body's own memory, as readers that own the body do
    const owned = Buffer.from(body);
    expect((await open(owned, { key, cipher: ring, consume: true })).plaintext.equals(expected)).toBe(true);
  });

  it("a streamed payload is the chunked ciphertext encrypt() makes of the whole, whatever the pieces", async () => {
    const start = await ring.begin();
    const payload = randomBytes(3 * CHUNK_BYTES + 777);
    const aad = Buffer.from("header and key");
    const whole = Buffer.from(await start.encrypt(payload, aad));
    const pieces = async function* () {
      for (let at = 0; at < payload.length; at += 300_001) yield payload.subarray(at, at + 300_001);
    };
    const streamed: Buffer[] = [];
    for await (const c of start.encryptStream!(pieces(), aad)) streamed.push(Buffer.from(c));
    expect(Buffer.concat(streamed).equals(whole)).toBe(true);
    // an empty payload is one empty last chunk, as encrypt() makes it
    const empty: Buffer[] = [];
    for await (const c of start.encryptStream!((async function* () {})(), aad)) empty.push(Buffer.from(c));
    expect(Buffer.concat(empty).equals(Buffer.from(await start.encrypt(Buffer.alloc(0), aad)))).toBe(true);
  });

  it("every alteration of a streamed body is a DecryptionFailedError", async () => {
    const sealed = await sealStream(plaintext(STREAM_FRAME_BYTES + 5 * CHUNK_BYTES), {
      compression: resolveCompression({ codec: "none" }),
      key,
      cipher: ring,
    });
    const body = await drain(sealed.body);
    const payloadStart = 9 + body.readUInt32BE(5) + 32;
    const chunks = Math.ceil((body.length - payloadStart) / stride);
    expect(chunks).toBeGreaterThan(8);
    const middle = payloadStart + 4 * stride;
    const flipped = Buffer.from(body);
    flipped[middle + 100]! ^= 1;
    const cases: [string, Buffer, string][] = [
      ["a ciphertext byte in a middle chunk", flipped, key],
      [
        "two chunks swapped",
        Buffer.concat([
          body.subarray(0, middle),
          body.subarray(middle + stride, middle + 2 * stride),
          body.subarray(middle, middle + stride),
          body.subarray(middle + 2 * stride),
        ]),
        key,
      ],
      ["cut at a chunk boundary", body.subarray(0, middle), key],
      ["moved to another thread's key", body, "threads/u/b/~/doc/1"],
    ];
    for (const [label, altered, at] of cases) {
      await expect(open(altered, { key: at, cipher: ring }), label).rejects.toThrow(DecryptionFailedError);
    }
    expect((await open(body, { key, cipher: ring })).plaintext.length).toBe(STREAM_FRAME_BYTES + 5 * CHUNK_BYTES);
  });
});
