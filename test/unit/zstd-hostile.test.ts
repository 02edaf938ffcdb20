/**
 * zstd payloads whose every size adds up but whose shape is hostile: hundreds of thousands of
 * empty or skippable frames, thousands of one-byte blocks in an 8 MiB window. Each used to cost
 * seconds to hours of thread-pool or main-thread time for a few hundred KB of body; each must end
 * in a CheckpointCorruptedError at once, while what zstd writes still reads.
 */

import { describe, expect, it } from "vitest";
import { open, zstdCompress, zstdImplementation } from "../../src/codec.js";
import { jsZstdDecompress, zstdDecompress } from "../../src/zstd.js";
import { CheckpointCorruptedError } from "../../src/errors.js";
import { watch } from "../helpers/watch.js";
import { envelopeV2, sha256Hex } from "../helpers/zstd-frames.js";

const KEY = "prod/threads/victim/n/~/zyx~/c";
const MiB = 1024 * 1024;

function blockHeader(last: boolean, type: number, size: number): Buffer {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]);
}
/** A frame of no content that declares so (single segment, a 1-byte size of 0): 9 bytes. */
const EMPTY_FRAME = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00]), blockHeader(true, 0, 0)]);
/** A skippable frame of no content: 8 bytes. */
const SKIPPABLE_FRAME = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);

/** One frame with an 8 MiB window: `tiny` one-byte RLE blocks of "a", then `rest` bytes of "a". */
function tinyBlocksFrame(tiny: number, rest: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 13 << 3])];
  for (let i = 0; i < tiny; i += 1) parts.push(blockHeader(false, 1, 1), Buffer.from("a"));
  const blocks = Math.ceil(rest / (128 * 1024));
  for (let i = 0; i < blocks; i += 1)
    parts.push(blockHeader(i === blocks - 1, 1, Math.min(128 * 1024, rest - i * 128 * 1024)), Buffer.from("a"));
  return Buffer.concat(parts);
}

/** Runs `open` on a key-bound envelope of `payload` declaring `plaintext`, timing it and the event loop. */
function watchOpen(payload: Buffer, plaintext: Buffer) {
  const body = envelopeV2(payload, { c: "zstd", n: plaintext.length, h: sha256Hex(plaintext), k: sha256Hex(KEY) });
  return watch(() => open(body, { key: KEY }));
}

/** Bounds with room for a busy 2-core machine (the failures they catch took 7 s to hours). */
const MAX_MS = 1000;
const MAX_LAG_MS = 500;

describe(`zstd payloads of hostile shape (zstd via ${zstdImplementation})`, () => {
  const content = Buffer.alloc(4 * MiB, "a");

  it("100,000 empty frames after the content are refused unread (they took 9 s on Node 24)", async () => {
    const frame = await zstdCompress(content, 3);
    const w = await watchOpen(Buffer.concat([frame, ...Array<Buffer>(100_000).fill(EMPTY_FRAME)]), content);
    expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
    expect((w.error as Error).message).toMatch(/more than 5 frames, too many for 4194304 bytes/);
    expect(w.ms).toBeLessThan(MAX_MS);
    expect(w.maxLagMs).toBeLessThan(MAX_LAG_MS);
  });

  it("100,000 skippable frames of padding are refused as well", async () => {
    const frame = await zstdCompress(content, 3);
    const w = await watchOpen(Buffer.concat([...Array<Buffer>(100_000).fill(SKIPPABLE_FRAME), frame]), content);
    expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
    expect((w.error as Error).message).toMatch(/too many for 4194304 bytes/);
  });

  it("20,000 one-byte blocks in an 8 MiB window are refused unread (they held Node 20's event loop for 7 s)", async () => {
    const plaintext = Buffer.alloc(20_000 + 4 * MiB, "a");
    const w = await watchOpen(tinyBlocksFrame(20_000, 4 * MiB), plaintext);
    expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
    expect((w.error as Error).message).toMatch(/blocks, too many for/);
    expect(w.ms).toBeLessThan(MAX_MS);
    expect(w.maxLagMs).toBeLessThan(MAX_LAG_MS);
  });

  it("the most frames and blocks let through still read, in bounded time, the event loop turning", async () => {
    // 4 MiB: 5 frames (1 + 4); 4 MiB + 226 bytes: 1 + 257 blocks (226 one-byte ones, 32 of 128 KiB)
    const frame = await zstdCompress(content, 3);
    const framed = await watchOpen(Buffer.concat([frame, ...Array<Buffer>(4).fill(EMPTY_FRAME)]), content);
    expect((framed.result as { plaintext: Buffer }).plaintext.equals(content)).toBe(true);
    await expect(
      zstdDecompress(Buffer.concat([frame, ...Array<Buffer>(5).fill(EMPTY_FRAME)]), content.length),
    ).rejects.toThrow(/frames/);
    const tiny = 226;
    const plaintext = Buffer.alloc(tiny + 4 * MiB, "a");
    const blocks = await watchOpen(tinyBlocksFrame(tiny, 4 * MiB), plaintext);
    expect((blocks.result as { plaintext: Buffer }).plaintext.equals(plaintext)).toBe(true);
    expect(blocks.ms).toBeLessThan(MAX_MS);
    expect(blocks.maxLagMs).toBeLessThan(MAX_LAG_MS);
    await expect(jsZstdDecompress(tinyBlocksFrame(tiny + 1, 4 * MiB), plaintext.length + 1)).rejects.toThrow(/blocks/);
  });

  it("one-byte blocks up to the bound are decoded with the event loop turning (pure JS decoder)", async () => {
    // 64 MiB may come in 4,097 blocks: 3,500 of one byte, then 512 of 128 KiB; each moves fzstd's
    // 8 MiB window, and fed all at once (they make less than a batch of output) they held the
    // event loop for over a second
    const tiny = 3_500;
    const plaintext = Buffer.alloc(64 * MiB, "a");
    const frame = tinyBlocksFrame(tiny, plaintext.length - tiny);
    const w = await watch(() => jsZstdDecompress(frame, plaintext.length));
    expect(w.result?.equals(plaintext)).toBe(true);
    expect(w.maxLagMs).toBeLessThan(MAX_LAG_MS);
  }, 30_000);

  it("a frame whose checksum is wrong over the right content: never other bytes (node:zlib refuses it)", async () => {
    // a raw block under a frame header that promises a zstd checksum (xxHash64), and four bytes
    // that are not it: fzstd does not check zstd checksums and reads the content, node:zlib (Node
    // 22.15+) refuses it; the envelope's SHA-256 of the plaintext vouches for the content either way
    const small = Buffer.alloc(64 * 1024, "z");
    const frame = Buffer.concat([
      Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x04, 7 << 3]),
      blockHeader(true, 0, small.length),
      small,
      Buffer.from([1, 2, 3, 4]),
    ]);
    expect((await jsZstdDecompress(frame, small.length)).equals(small)).toBe(true);
    if (zstdImplementation === "node:zlib")
      await expect(zstdDecompress(frame, small.length)).rejects.toThrow(/checksum/);
  });

  it("what zstd writes at every level stays within the bounds (pure JS decoder too)", async () => {
    // text and random bytes alternating in 8 KiB runs: what makes zstd's block splitter cut most
    const runs: Buffer[] = [];
    for (let i = 0; i < 256; i += 1)
      runs.push(
        i % 2
          ? Buffer.from(Array.from({ length: 8192 }, (_, j) => (j * 7919 + i * 104729) % 251))
          : Buffer.alloc(8192, `run ${i} `),
      );
    const mixed = Buffer.concat(runs);
    for (const level of [1, 3, 9, 19]) {
      const frame = await zstdCompress(mixed, level);
      expect((await zstdDecompress(frame, mixed.length)).equals(mixed)).toBe(true);
      expect((await jsZstdDecompress(frame, mixed.length)).equals(mixed)).toBe(true);
    }
  });
});
