import { randomBytes } from "node:crypto";
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
import { inspectZstdFrames, slices } from "../../src/zstd.js";

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

  it("seals small and encrypted plaintexts whole, as seal does", async () => {
    const small = Buffer.from("small");
    const sealed = await sealStream(small, { compression: resolveCompression({}), key });
    expect(Buffer.isBuffer(sealed.body)).toBe(true);
    expect((await open(sealed.body as Buffer, { key })).plaintext.equals(small)).toBe(true);
    const whole = await seal(small, { compression: resolveCompression({}), key });
    expect(whole.plaintextSha256).toBe(sealed.plaintextSha256);
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
