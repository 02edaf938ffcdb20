import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  open,
  resolveCompression,
  seal,
  wasmZstdCompress,
  wasmZstdDecompress,
  zstdCompress,
  zstdDecompress,
  zstdImplementation,
} from "../../src/codec.js";
import { CheckpointCorruptedError, InvalidOptionError } from "../../src/errors.js";
import { pack, unpack } from "../../src/payload.js";

/** Compressible but not trivial: JSON-ish text with random ids, like agent state. */
function stateLike(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const s = `{"role":"assistant","id":"${randomBytes(6).toString("hex")}","content":"step ${size} of the plan"},`;
    parts.push(s);
    size += s.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

const sizes: [string, number][] = [
  ["0 B", 0],
  ["1 B", 1],
  ["1 MB", 1024 * 1024],
  ["64 MB", 64 * 1024 * 1024],
];

describe.each(["zstd", "none"] as const)("envelope with codec %s", (codec) => {
  const compression = resolveCompression({ codec });
  it.each(sizes)("round-trips %s", async (_label, bytes) => {
    const plaintext = stateLike(bytes);
    const sealed = await seal(plaintext, compression, "json");
    const opened = await open(sealed.body);
    expect(opened.header).toMatchObject({ c: codec, n: bytes, t: "json" });
    expect(opened.plaintext.equals(plaintext)).toBe(true);
    if (codec === "zstd" && bytes >= 1024 * 1024) expect(sealed.body.length).toBeLessThan(bytes / 2);
  }, 120_000);
});

describe("envelope integrity", () => {
  it("detects a flipped payload byte, a truncated body and foreign bytes", async () => {
    const sealed = await seal(stateLike(10_000), resolveCompression({ codec: "none" }));
    const flipped = Buffer.from(sealed.body);
    flipped[flipped.length - 10]! ^= 0xff;
    await expect(open(flipped, "k")).rejects.toThrow(CheckpointCorruptedError);
    await expect(open(sealed.body.subarray(0, sealed.body.length - 1))).rejects.toThrow(CheckpointCorruptedError);
    await expect(open(Buffer.from("not an envelope"))).rejects.toThrow(CheckpointCorruptedError);
    const zs = await seal(stateLike(10_000), resolveCompression({}));
    const bad = Buffer.from(zs.body);
    bad[bad.length - 20]! ^= 0x55;
    await expect(open(bad)).rejects.toThrow(CheckpointCorruptedError);
  });

  it("reads an older default: a body written without compression stays readable", async () => {
    const plain = await seal(Buffer.from("hello"), resolveCompression({ codec: "none" }));
    expect((await open(plain.body)).header.c).toBe("none");
    expect((await open(plain.body)).plaintext.toString()).toBe("hello");
  });

  it("validates compression options with the option's name", () => {
    expect(() => resolveCompression({ level: 0 })).toThrow(InvalidOptionError);
    expect(() => resolveCompression({ level: 22 })).toThrow(/compression.level/);
    expect(() => resolveCompression({ codec: "gzip" as never })).toThrow(/compression.codec/);
  });
});

describe(`zstd implementations (this Node: ${zstdImplementation})`, () => {
  it("zstd-codec's chunked path handles inputs its one-shot API aborts on", async () => {
    const input = stateLike(24 * 1024 * 1024);
    const compressed = await wasmZstdCompress(input, 3);
    expect((await wasmZstdDecompress(compressed, input.length)).equals(input)).toBe(true);
  }, 120_000);

  it("frames of one implementation are read by the other", async () => {
    const input = stateLike(3 * 1024 * 1024);
    // levels above 9 run at 9 on the WebAssembly fallback (its heap cannot hold them)
    for (const level of [1, 3, 9, 19]) {
      const a = await zstdCompress(input, level);
      expect((await wasmZstdDecompress(a, input.length)).equals(input)).toBe(true);
      const b = await wasmZstdCompress(input, level);
      expect((await zstdDecompress(b, input.length)).equals(input)).toBe(true);
    }
  }, 120_000);
});

describe("payload frames", () => {
  it("round-trips a head with binary sections", () => {
    const sections = [Buffer.from("a"), Buffer.alloc(0), randomBytes(1000)];
    const framed = pack({ kind: "writes", x: 1 }, sections);
    const { head, sections: out } = unpack<{ kind: "writes"; x: number }>(framed, "writes");
    expect(head.x).toBe(1);
    expect(out.map((s) => s.toString("hex"))).toEqual(sections.map((s) => s.toString("hex")));
    expect(() => unpack(framed, "checkpoint")).toThrow(CheckpointCorruptedError);
    expect(() => unpack(framed.subarray(0, framed.length - 1), "writes")).toThrow(CheckpointCorruptedError);
  });
});
