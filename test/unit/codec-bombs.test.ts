/**
 * Decompression bombs and lying headers: each must end in a CheckpointCorruptedError within a
 * second, in bounded memory, without holding the event loop for more than ~100 ms at a time.
 * (A file of its own so the memory it measures is not another test's.)
 */

import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MAX_OBJECT_BYTES, open, wasmZstdCompress, zstdImplementation } from "../../src/codec.js";
import { CheckpointCorruptedError } from "../../src/errors.js";
import { watch, type Watched } from "../helpers/watch.js";
import { compressedZerosFrame, envelopeV2, hugeWindowFrame, rleZerosFrame, sha256Hex } from "../helpers/zstd-frames.js";

const KEY = "prod/threads/victim/n/~/zyx~/c";
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Runs `open` on `body` while timing it, sampling memory and watching the event loop. */
const watchOpen = (body: Buffer, maxBytes?: number) => watch(() => open(body, { key: KEY, maxBytes }));

/** A correctly sealed, key-bound envelope whose header declares `n` bytes of zstd content. */
function bomb(frame: Buffer, n: number): Buffer {
  return envelopeV2(frame, { c: "zstd", n, h: sha256Hex("not the content"), k: sha256Hex(KEY) });
}

/**
 * Time bounds carry a margin for a busy 2-core machine (they are measured at 10 times less on a
 * quiet one): a bomb used to take 10 to 25 s and block the event loop for seconds, which these
 * bounds still catch; memory, the measure that matters, is held to its bound as it is.
 */
const TIME_MARGIN = 10;
const MAX_EVENT_LOOP_PAUSE_MS = 100 * TIME_MARGIN;

function expectContained(w: Watched<unknown>, limits: { ms: number; rssBytes: number }) {
  expect(w.error).toBeInstanceOf(CheckpointCorruptedError);
  expect((w.error as CheckpointCorruptedError).key).toBe(KEY);
  expect(w.ms).toBeLessThan(limits.ms * TIME_MARGIN);
  expect(w.rssGrowthBytes).toBeLessThan(limits.rssBytes);
  expect(w.maxLagMs).toBeLessThan(MAX_EVENT_LOOP_PAUSE_MS);
}

describe(`decompression bombs (zstd via ${zstdImplementation})`, () => {
  let realBomb: Buffer;

  beforeAll(async () => {
    // 1 GiB of zeros, really compressed (the same 1 MiB of zeros 1,024 times: no 1 GiB buffer)
    const zeros = Buffer.alloc(MiB);
    realBomb = await wasmZstdCompress(
      Array.from({ length: 1024 }, () => zeros),
      3,
    );
  }, 120_000);

  it("a real 1 GiB bomb (about 100 KB) stops at the declared length", async () => {
    expect(realBomb.length).toBeLessThan(200_000);
    // declared 1 MiB: decoding stops right after the first MiB
    expectContained(await watchOpen(bomb(realBomb, MiB)), { ms: 1000, rssBytes: 64 * MiB });
    // declared honestly: refused before decoding
    const honest = await watchOpen(bomb(realBomb, GiB));
    expectContained(honest, { ms: 1000, rssBytes: 16 * MiB });
    expect((honest.error as Error).message).toMatch(/declares 1073741824 bytes, more than maxObjectBytes/);
  });

  it("the same bomb made of RLE blocks (32 KiB for 1 GiB) is refused from its block headers", async () => {
    const frame = rleZerosFrame(GiB);
    expect(frame.length).toBeLessThan(40_000);
    for (const n of [MiB, DEFAULT_MAX_OBJECT_BYTES]) {
      const w = await watchOpen(bomb(frame, n));
      expectContained(w, { ms: 1000, rssBytes: 16 * MiB });
    }
  });

  it("a bomb declaring the limit itself stops there: at most the limit is ever decoded", async () => {
    const limit = 64 * MiB;
    // 512 MiB in 4,096 blocks: as many as 64 MiB may come in (one per 16 KiB), so it is decoded
    const w = await watchOpen(bomb(compressedZerosFrame(4096), limit), limit);
    expectContained(w, { ms: 1000, rssBytes: 3 * limit });
    expect((w.error as Error).message).toMatch(/decodes to more bytes than expected/);
  }, 30_000);

  it("a tiny body whose header claims 4 GB allocates nothing", async () => {
    const body = bomb(rleZerosFrame(1000), 4e9);
    expect(body.length).toBeLessThan(300);
    expectContained(await watchOpen(body), { ms: 100, rssBytes: 8 * MiB });
  });

  it("frames asking for huge windows or declaring more content than the header are refused unread", async () => {
    for (const exponent of [14, 21]) {
      const w = await watchOpen(bomb(hugeWindowFrame(exponent), 0));
      expectContained(w, { ms: 100, rssBytes: 8 * MiB });
      expect((w.error as Error).message).toMatch(/window/);
    }
    // single-segment frame declaring 4 GiB of content (an 8-byte content size)
    const declared = Buffer.from("28b52ffde0" + "0000000001000000" + "010000", "hex");
    const w = await watchOpen(bomb(declared, 1000));
    expectContained(w, { ms: 100, rssBytes: 8 * MiB });
    expect((w.error as Error).message).toMatch(/declares 4294967296 bytes of content/);
  });
});
