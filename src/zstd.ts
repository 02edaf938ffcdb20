/**
 * zstd: compression, and decompression bounded in memory, in size and in event-loop time.
 *
 * A stored object may be hostile: 33 KB of zstd frame can claim 1 GiB of zeros, and a frame
 * header can ask for a 2 GB window. So every frame is inspected before it is decoded
 * ({@link inspectZstdFrames}: no dictionaries, a window of at most {@link MAX_ZSTD_WINDOW_BYTES},
 * declared and block sizes consistent with the length the envelope expects), and decoding stops
 * as soon as the output passes that length.
 *
 * - Node 22.15+ decodes with `node:zlib`, in the thread pool, with `maxOutputLength`.
 * - Older Node decodes with `fzstd` (pure JavaScript, streaming) on the main thread, fed a few
 *   blocks at a time with a yield to the event loop every {@link SLICE_MS} ms. zstd-codec's
 *   WebAssembly decoder is not used to read: it decodes a whole input in one synchronous call
 *   and has no bound on its output. Measured on 64 MB of state-like JSON, fzstd decodes as
 *   fast as zstd-codec did (0.3–0.8 s), so nothing is lost; a worker thread would also have
 *   kept the event loop free, but costs a start-up per process and a second entry file in the
 *   package for both module formats.
 * - Compression stays with `node:zlib` or zstd-codec: its input is our own data. zstd-codec's
 *   one-shot API aborts the WebAssembly instance on inputs of about 11 MB (fixed 16 MiB heap),
 *   so it takes small inputs only (it is much faster on them) and larger ones are fed in 1 MiB
 *   chunks; levels above {@link WASM_MAX_ZSTD_LEVEL} are lowered to it.
 */

import * as zlib from "node:zlib";
import { promisify } from "node:util";
import { Decompress } from "fzstd";
import { release } from "./release.js";

/** zstd levels above 19 need windows the WebAssembly fallback cannot hold. */
export const MAX_ZSTD_LEVEL = 19;
/**
 * zstd-codec compresses within a fixed 16 MiB WebAssembly heap: levels above 9 abort it (OOM,
 * and an aborted instance stays broken), so the fallback compresses at 9 at most.
 */
export const WASM_MAX_ZSTD_LEVEL = 9;
/**
 * Largest zstd window accepted. Levels up to 19 use at most 8 MiB (windowLog 23), so every
 * frame this library writes fits; a larger window in a stored frame is hostile or foreign, and
 * a decoder would allocate it before reading a single block.
 */
export const MAX_ZSTD_WINDOW_BYTES = 8 * 1024 * 1024;
/** The event loop is given back at least this often while decoding on the main thread. */
export const SLICE_MS = 20;

const COMPRESS_CHUNK_BYTES = 1 << 20;
/**
 * Inputs up to this size go through zstd-codec's one-shot API: measured on Node 20, it takes
 * 0.1 ms for a 3 kB checkpoint record where the streaming API takes 1.5–3 ms (it sets up a
 * stream per call), and a superstep compresses two such objects before its requests leave. The
 * one-shot API aborts only on inputs of about 11 MB (it was run on 4 MiB of random bytes
 * without trouble); above this size the input is streamed in 1 MiB chunks.
 */
const WASM_ONE_SHOT_MAX_BYTES = 1 << 20;
/** fzstd is fed blocks worth at most this much work (output, windows moved) between looks at the clock. */
const DECODE_BATCH_BYTES = 1 << 20;
const MAX_BLOCK_BYTES = 128 * 1024;
/**
 * Plaintext an input must hold per zstd frame it has (skippable frames counted), beyond its
 * first: a frame costs a decoder of its own whatever it holds (with node:zlib a new context and
 * a trip through the thread pool, about 90 µs on Node 24), so 100,000 empty frames of 9 bytes
 * each, 900 KB, took 9 s to read, and the 256 MiB a body may hold would have taken hours. This
 * library writes frames of 8 MiB (STREAM_FRAME_BYTES in codec.ts) and zstd one per input; 1 MiB
 * leaves room for any writer that cuts smaller.
 */
const MIN_FRAME_CONTENT_BYTES = 1 << 20;
/**
 * Plaintext an input must hold per block, on average, beyond one block per frame: fzstd moves
 * its whole window (up to 8 MiB) for every block it decodes, so 20,000 blocks of one byte each
 * (80 KB) held the event loop of Node 20 for 7 s, and the 256 MiB a body may hold would have
 * held it for hours. zstd writes blocks of 128 KiB, 64 KiB on average at the least where its
 * block splitter cuts them (measured on Node 24 at levels 3 to 19): 16 KiB leaves it room.
 */
const MIN_BLOCK_CONTENT_BYTES = 16 * 1024;
const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** Output chunks of decompression: a frame of ours (8 MiB) comes out as one, see nativeDecompress. */
const NATIVE_MAX_CHUNK_BYTES = (8 << 20) + (1 << 16);
const NATIVE_MIN_CHUNK_BYTES = 16 * 1024;

type ZlibZstd = {
  zstdCompress: (buf: Uint8Array, opts: object, cb: (err: Error | null, out: Buffer) => void) => void;
  zstdDecompress: (buf: Uint8Array, opts: object, cb: (err: Error | null, out: Buffer) => void) => void;
  constants: Record<string, number>;
};
const nativeZstd =
  typeof (zlib as unknown as Partial<ZlibZstd>).zstdCompress === "function" ? (zlib as unknown as ZlibZstd) : undefined;

/** `"node:zlib"` on Node 22.15+, `"zstd-codec"` before (which then compresses; fzstd reads). */
export const zstdImplementation: "node:zlib" | "zstd-codec" = nativeZstd ? "node:zlib" : "zstd-codec";

/**
 * Gives the event loop a turn whenever {@link SLICE_MS} have passed since the last one. Work
 * between two calls must be small (a few ms), so no timer or I/O callback waits much longer.
 */
export class Pacer {
  private last = performance.now();

  async pause(): Promise<void> {
    if (performance.now() - this.last < SLICE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

// ---- compression --------------------------------------------------------------------------

interface ZstdWasm {
  streaming: { compressChunks(chunks: Uint8Array[], sizeHint: number, level: number): Uint8Array | null };
  simple: { compress(input: Uint8Array, level: number): Uint8Array | null };
}
let wasm: Promise<ZstdWasm> | undefined;

function wasmZstd(): Promise<ZstdWasm> {
  wasm ??= import("zstd-codec").then(
    (mod) =>
      new Promise<ZstdWasm>((resolve) => {
        const { ZstdCodec } =
          (mod as { default?: { ZstdCodec: unknown }; ZstdCodec?: unknown }).default ?? (mod as { ZstdCodec: unknown });
        type Binding = { Streaming: new () => ZstdWasm["streaming"]; Simple: new () => ZstdWasm["simple"] };
        (ZstdCodec as { run(cb: (z: Binding) => void): void }).run((z) =>
          resolve({ streaming: new z.Streaming(), simple: new z.Simple() }),
        );
      }),
  );
  return wasm;
}

/** Compresses parts of one plaintext into one zstd frame. */
export async function zstdCompress(input: Uint8Array | readonly Uint8Array[], level: number): Promise<Buffer> {
  if (nativeZstd) {
    const whole = Array.isArray(input) ? Buffer.concat(input as readonly Uint8Array[]) : (input as Uint8Array);
    const params = {
      [nativeZstd.constants.ZSTD_c_compressionLevel!]: level,
      [nativeZstd.constants.ZSTD_c_checksumFlag!]: 1,
    };
    // output chunks of up to 1 MiB: each chunk is a trip through the thread pool, and with the
    // default 16 KiB an 8 MiB frame took twice as long (measured on Node 24, see README, Speed)
    const chunkSize = Math.min(
      Math.max(whole.byteLength + (whole.byteLength >> 7) + 1024, NATIVE_MIN_CHUNK_BYTES),
      1 << 20,
    );
    return promisify(nativeZstd.zstdCompress)(whole, { params, pledgedSrcSize: whole.byteLength, chunkSize });
  }
  return wasmZstdCompress(input, level);
}

/**
 * Frames compressed (and decoded) at once: with `node:zlib` they are worked on side by side in
 * the thread pool while the main thread hashes and sends. Measured on 100 MB of state-like text,
 * 2 cores, Node 24, level 3 (README, Speed): sealing took 330–340 ms one frame at a time,
 * 240–290 with 2, 220–270 with 3, 195–220 with 4; opening 275–305, 205–235, 195–220, 195–215.
 * Three leave one of libuv's four threads to the rest of the process (file and DNS work).
 */
export const FRAMES_AHEAD = 3;

/**
 * Compresses a plaintext (its parts in order) as consecutive zstd frames of `frameBytes` of
 * plaintext each. A large plaintext is never compressed whole: what is held is `ahead` frames'
 * input and output (`ahead` is 1 without `node:zlib`). Compression of the first `ahead` frames
 * starts at once (before the first frame is asked for), so it runs while the caller does
 * something else, such as hashing the plaintext; each frame read starts the next one.
 * Concatenated frames are one valid zstd stream (RFC 8878, section 3.1); every decoder here reads
 * them (and the native one is fed frame by frame, see {@link zstdDecompress}). Frames of 8 MiB
 * cost nothing measurable in ratio: zstd's window at the levels used is smaller than a frame. The
 * frames can be read once.
 */
export function zstdFrames(
  parts: readonly Uint8Array[],
  level: number,
  frameBytes: number,
  // zstd-codec compresses on the main thread: frames made ahead there would only hold the event
  // loop longer, all at once, with nothing to run beside them
  ahead = nativeZstd ? FRAMES_AHEAD : 1,
): AsyncIterable<Buffer> {
  const groups = slices(parts, frameBytes);
  const pending: Promise<Buffer>[] = [];
  const fill = () => {
    while (pending.length < Math.max(1, ahead)) {
      const next = groups.next();
      if (next.done) return;
      const frame = zstdCompress(next.value.length === 1 ? next.value[0]! : next.value, level);
      // a frame nobody reads any more (the upload failed) must not become an unhandled rejection
      frame.catch(() => undefined);
      pending.push(frame);
    }
  };
  fill();
  return {
    async *[Symbol.asyncIterator]() {
      while (pending.length > 0) {
        const frame = await pending.shift()!;
        fill();
        yield frame;
      }
    },
  };
}

/** The parts cut into groups of `bytes` bytes each (the last may be shorter), without copying. */
export function* slices(parts: readonly Uint8Array[], bytes: number): Generator<Uint8Array[]> {
  let group: Uint8Array[] = [];
  let size = 0;
  for (const part of parts) {
    for (let offset = 0; offset < part.byteLength;) {
      const take = Math.min(bytes - size, part.byteLength - offset);
      group.push(part.subarray(offset, offset + take));
      size += take;
      offset += take;
      if (size === bytes) {
        yield group;
        group = [];
        size = 0;
      }
    }
  }
  if (size > 0) yield group;
}

/** zstd-codec, fed in 1 MiB chunks (exported for the cross-implementation tests). */
export async function wasmZstdCompress(input: Uint8Array | readonly Uint8Array[], level: number): Promise<Buffer> {
  const z = await wasmZstd();
  const parts = Array.isArray(input) ? (input as readonly Uint8Array[]) : [input as Uint8Array];
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  if (total <= WASM_ONE_SHOT_MAX_BYTES) {
    const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
    const out = z.simple.compress(whole, Math.min(level, WASM_MAX_ZSTD_LEVEL));
    if (!out) throw new Error("zstd compression failed");
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (const part of parts) {
    for (let offset = 0; offset < part.byteLength; offset += COMPRESS_CHUNK_BYTES) {
      chunks.push(part.subarray(offset, offset + COMPRESS_CHUNK_BYTES));
    }
    size += part.byteLength;
  }
  const out = z.streaming.compressChunks(chunks, size, Math.min(level, WASM_MAX_ZSTD_LEVEL));
  if (!out) throw new Error("zstd compression failed");
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

// ---- frame inspection ---------------------------------------------------------------------

/** What {@link inspectZstdFrames} learned: where to cut the input between batches of blocks. */
export interface ZstdFrames {
  /** Offsets after which a batch of blocks ends (the last one is the input's length). */
  cuts: number[];
  /** Where each zstd frame ends (skippable frames are left out). */
  frameEnds: number[];
  /** The content size each frame declares, in the order of `frameEnds` (`undefined`: none). */
  frameSizes: (number | undefined)[];
}

/**
 * Reads the frame and block headers of a zstd input (RFC 8878) without decoding anything and
 * throws unless it can decode to exactly `expectedBytes`: no dictionary, a window of at most
 * {@link MAX_ZSTD_WINDOW_BYTES}, no frame declaring more content than expected, raw and RLE
 * blocks (whose size is known) not adding up to more, and not so few blocks that they could
 * not make that much; and no more frames, nor blocks, than such content comes in (see
 * MIN_FRAME_CONTENT_BYTES and MIN_BLOCK_CONTENT_BYTES). A bomb of RLE blocks (what zstd makes of
 * zeros) ends here, unread.
 */
export function inspectZstdFrames(input: Uint8Array, expectedBytes: number): ZstdFrames {
  const fail = (why: string): never => {
    throw new Error(`zstd input ${why}`);
  };
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const need = (at: number, bytes: number) => {
    if (at + bytes > input.byteLength) fail("is truncated");
  };
  if (input.byteLength === 0) fail("is empty");
  const cuts: number[] = [];
  const frameEnds: number[] = [];
  const frameSizes: (number | undefined)[] = [];
  let p = 0;
  let minTotal = 0;
  let maxTotal = 0;
  let batch = 0;
  const maxFrames = 1 + Math.ceil(expectedBytes / MIN_FRAME_CONTENT_BYTES);
  const maxContentBlocks = Math.ceil(expectedBytes / MIN_BLOCK_CONTENT_BYTES);
  let blocks = 0;
  for (let frames = 1; p < input.byteLength; frames += 1) {
    if (frames > maxFrames) fail(`has more than ${maxFrames} frames, too many for ${expectedBytes} bytes of content`);
    need(p, 4);
    const magic = view.getUint32(p, true);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(p, 8);
      p += 8 + view.getUint32(p + 4, true);
      if (p > input.byteLength) fail("is truncated");
      continue;
    }
    if (magic !== FRAME_MAGIC) fail(`has no zstd frame at byte ${p}`);
    need(p, 6);
    const descriptor = input[p + 4]!;
    if (descriptor & 0x08) fail("sets a reserved frame header bit");
    const singleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
    const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!;
    p += 5;
    let window = 0;
    if (!singleSegment) {
      const wd = input[p++]!;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    need(p, dictionaryBytes + contentSizeBytes);
    let dictionary = 0;
    for (let i = dictionaryBytes - 1; i >= 0; i -= 1) dictionary = dictionary * 256 + input[p + i]!;
    if (dictionary !== 0) fail("needs a dictionary");
    p += dictionaryBytes;
    let contentSize: number | undefined;
    if (contentSizeBytes > 0) {
      contentSize = 0;
      for (let i = contentSizeBytes - 1; i >= 0; i -= 1) contentSize = contentSize * 256 + input[p + i]!;
      if (contentSizeBytes === 2) contentSize += 256;
      p += contentSizeBytes;
      if (contentSize > expectedBytes - minTotal) fail(`declares ${contentSize} bytes of content, more than expected`);
    }
    if (singleSegment) window = contentSize!;
    if (window > MAX_ZSTD_WINDOW_BYTES)
      fail(`asks for a ${window}-byte window (at most ${MAX_ZSTD_WINDOW_BYTES} are accepted)`);
    const maxBlock = Math.min(window, MAX_BLOCK_BYTES);
    for (let last = 0; !last;) {
      need(p, 3);
      const header = input[p]! | (input[p + 1]! << 8) | (input[p + 2]! << 16);
      p += 3;
      last = header & 1;
      const type = (header >> 1) & 3;
      const size = header >>> 3;
      if (type === 3) fail("has a reserved block type");
      if (size > maxBlock) fail("has a block larger than its window allows");
      blocks += 1;
      if (blocks > frames + maxContentBlocks)
        fail(`has more than ${frames + maxContentBlocks} blocks, too many for ${expectedBytes} bytes of content`);
      const stored = type === 1 ? 1 : size;
      need(p, stored);
      p += stored;
      // a batch is the work fzstd does between two turns of the event loop: a block's output,
      // and at least its window, which fzstd moves for every block
      if (type === 2) {
        maxTotal += maxBlock;
        batch += Math.max(maxBlock, window);
      } else {
        minTotal += size;
        maxTotal += size;
        batch += Math.max(size, window);
      }
      if (minTotal > expectedBytes) fail("decodes to more bytes than expected");
      if (batch >= DECODE_BATCH_BYTES) {
        cuts.push(p);
        batch = 0;
      }
    }
    if (hasChecksum) {
      need(p, 4);
      p += 4;
    }
    frameEnds.push(p);
    frameSizes.push(contentSize);
  }
  if (maxTotal < expectedBytes) fail("cannot decode to as many bytes as expected");
  if (cuts.at(-1) !== input.byteLength) cuts.push(input.byteLength);
  return { cuts, frameEnds, frameSizes };
}

// ---- decompression ------------------------------------------------------------------------

/** Told the decoded bytes in order, a slice at a time (to hash them as they come). */
export type OnDecoded = (chunk: Uint8Array) => void;

/**
 * Decodes a zstd input that must hold exactly `expectedBytes` bytes; throws (a plain `Error`
 * saying why) when it does not, without ever producing more than `expectedBytes` + one chunk.
 * `onDecoded` is given the output in order as it is produced, so a caller can hash it while the
 * rest is still being decoded.
 */
export async function zstdDecompress(input: Uint8Array, expectedBytes: number, onDecoded?: OnDecoded): Promise<Buffer> {
  if (!nativeZstd) return jsZstdDecompress(input, expectedBytes, onDecoded);
  const { frameEnds, frameSizes } = inspectZstdFrames(input, expectedBytes);
  const pacer = new Pacer();
  if (frameEnds.length <= 1) {
    const out = await nativeDecompress(input, expectedBytes);
    await handOver(out, onDecoded, pacer);
    return out;
  }
  // several frames (a large plaintext, see zstdFrames), decoded straight into one buffer of the
  // expected length. Frames that all declare their size, adding up to what is expected, are
  // decoded FRAMES_AHEAD at a time in the thread pool, each bounded by its own size (a frame
  // decodes to exactly what it declares, or fails); otherwise one at a time, each bounded by
  // what is still expected.
  const sizes = frameSizes.every((size) => size !== undefined) ? (frameSizes as number[]) : undefined;
  const declared = sizes?.reduce((sum, size) => sum + size, 0);
  if (sizes && declared !== expectedBytes)
    throw new Error(`zstd input declares ${declared} bytes of content, not ${expectedBytes}`);
  const out = Buffer.allocUnsafe(expectedBytes);
  const pending: Promise<Buffer>[] = [];
  let started = 0;
  let from = 0;
  const start = () => {
    while (started < frameEnds.length && pending.length < (sizes ? FRAMES_AHEAD : 1)) {
      const end = frameEnds[started]!;
      const frame = nativeDecompress(
        input.subarray(from, end),
        sizes ? sizes[started]! : expectedBytes - produced,
        !sizes,
      );
      frame.catch(() => undefined);
      pending.push(frame);
      from = end;
      started += 1;
    }
  };
  let produced = 0;
  for (start(); pending.length > 0; start()) {
    const part = await pending.shift()!;
    part.copy(out, produced);
    produced += part.length;
    await handOver(part, onDecoded, pacer);
    // copied and hashed: the frame's own buffer (node:zlib's, held by nothing else) goes back
    // now, not when the collector next runs, while the plaintext is still being read
    release(part);
  }
  if (produced !== expectedBytes) throw new Error(`zstd input decodes to ${produced} bytes, not ${expectedBytes}`);
  return out;
}

/** Gives decoded bytes to `onDecoded` in slices, with turns of the event loop between them. */
async function handOver(bytes: Uint8Array, onDecoded: OnDecoded | undefined, pacer: Pacer): Promise<void> {
  if (!onDecoded) return;
  for (let offset = 0; offset < bytes.byteLength; offset += DECODE_BATCH_BYTES) {
    onDecoded(bytes.subarray(offset, offset + DECODE_BATCH_BYTES));
    await pacer.pause();
  }
}

/** node:zlib, bounded to `maxBytes` of output (exactly that many unless `upTo`). */
async function nativeDecompress(input: Uint8Array, maxBytes: number, upTo = false): Promise<Buffer> {
  // chunks of output: large ones for speed, never larger than needed for a small object
  const chunkSize = Math.min(Math.max(maxBytes + 1, NATIVE_MIN_CHUNK_BYTES), NATIVE_MAX_CHUNK_BYTES);
  let out: Buffer;
  try {
    out = await promisify(nativeZstd!.zstdDecompress)(input, { maxOutputLength: Math.max(maxBytes, 1), chunkSize });
  } catch (e) {
    if ((e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE")
      throw new Error("zstd input decodes to more bytes than expected", { cause: e });
    throw e;
  }
  if (upTo ? out.length > maxBytes : out.length !== maxBytes)
    throw new Error(`zstd input decodes to ${out.length} bytes, not ${maxBytes}`);
  return out;
}

/** fzstd, fed a batch of blocks at a time between turns of the event loop (exported for tests). */
export async function jsZstdDecompress(
  input: Uint8Array,
  expectedBytes: number,
  onDecoded?: OnDecoded,
): Promise<Buffer> {
  const { cuts } = inspectZstdFrames(input, expectedBytes);
  const pacer = new Pacer();
  // the output goes straight into one buffer of the expected length (bounded by the caller's
  // maxBytes): no list of chunks to join at the end, so the plaintext is held once
  const out = Buffer.allocUnsafe(expectedBytes);
  let produced = 0;
  const decoder = new Decompress((chunk) => {
    // thrown out of push(): the decoder is abandoned, nothing more is produced
    if (produced + chunk.length > expectedBytes) throw new Error("zstd input decodes to more bytes than expected");
    out.set(chunk, produced);
    produced += chunk.length;
    onDecoded?.(chunk);
  });
  let from = 0;
  for (const cut of cuts) {
    decoder.push(input.subarray(from, cut), cut === input.byteLength);
    from = cut;
    await pacer.pause();
  }
  if (produced !== expectedBytes) throw new Error(`zstd input decodes to ${produced} bytes, not ${expectedBytes}`);
  return out;
}
