/**
 * The envelope every object body is wrapped in, and its compression.
 *
 * ```text
 * "LGS3"  u8 format version  u32 header length (big-endian)  header (JSON)  payload
 * ```
 *
 * The header says how to read the payload: codec, plaintext length, SHA-256 of the plaintext,
 * the serde type of the value where the body is a single value, and (reserved) encryption. Old
 * objects stay readable when defaults change, because the reader follows the header, not the
 * options.
 *
 * zstd runs through `node:zlib` where Node has it (22.15+), else through `zstd-codec`'s
 * streaming API fed in 1 MiB chunks: its one-shot API aborts the WebAssembly instance on inputs
 * of about 11 MB (fixed 16 MiB heap), the chunked path keeps the heap bounded at any size
 * (measured to 64 MB), and levels above {@link WASM_MAX_ZSTD_LEVEL} are lowered to it.
 */

import { createHash } from "node:crypto";
import * as zlib from "node:zlib";
import { promisify } from "node:util";
import { CheckpointCorruptedError, InvalidOptionError } from "./errors.js";

export const ENVELOPE_MAGIC = Buffer.from("LGS3", "ascii");
export const ENVELOPE_VERSION = 1;
/** zstd levels above 19 need windows the WebAssembly fallback cannot hold. */
export const MAX_ZSTD_LEVEL = 19;
const CHUNK_BYTES = 1 << 20;
/**
 * zstd-codec compresses within a fixed 16 MiB WebAssembly heap: levels above 9 abort it (OOM,
 * and an aborted instance stays broken), so the fallback compresses at 9 at most. Reading is
 * not limited: it decodes frames of every level, level 19 of 64 MB included.
 */
export const WASM_MAX_ZSTD_LEVEL = 9;

export type CompressionCodec = "zstd" | "none";

export interface CompressionOptions {
  /** @default "zstd" */
  codec?: CompressionCodec;
  /** zstd level, 1 (fastest) to 19 (smallest). @default 3 */
  level?: number;
}

export interface ResolvedCompression {
  readonly codec: CompressionCodec;
  readonly level: number;
}

export function resolveCompression(options: CompressionOptions | undefined): ResolvedCompression {
  const codec = options?.codec ?? "zstd";
  const level = options?.level ?? 3;
  if (codec !== "zstd" && codec !== "none") {
    throw new InvalidOptionError(`option \`compression.codec\` must be "zstd" or "none"; got ${JSON.stringify(codec)}`);
  }
  if (!Number.isInteger(level) || level < 1 || level > MAX_ZSTD_LEVEL) {
    throw new InvalidOptionError(`option \`compression.level\` must be an integer from 1 to ${MAX_ZSTD_LEVEL}; got ${level}`);
  }
  return Object.freeze({ codec, level });
}

/** What the header of an envelope records. */
export interface EnvelopeHeader {
  /** codec of the payload */
  c: CompressionCodec;
  /** plaintext length in bytes */
  n: number;
  /** SHA-256 of the plaintext, hex */
  h: string;
  /** serde type of the value, for bodies that hold one serialized value */
  t?: string;
}

export interface Sealed {
  body: Buffer;
  /** SHA-256 of the plaintext, hex: equal plaintexts give equal digests whatever the codec. */
  sha256: string;
  plaintextBytes: number;
}

export interface Opened {
  plaintext: Buffer;
  header: EnvelopeHeader;
}

/** Wraps a plaintext in an envelope, compressed as `compression` says. */
export async function seal(plaintext: Uint8Array, compression: ResolvedCompression, type?: string): Promise<Sealed> {
  const sha256 = createHash("sha256").update(plaintext).digest("hex");
  const payload = compression.codec === "zstd" ? await zstdCompress(plaintext, compression.level) : Buffer.from(plaintext);
  const header: EnvelopeHeader = { c: compression.codec, n: plaintext.byteLength, h: sha256 };
  if (type !== undefined) header.t = type;
  const headerBytes = Buffer.from(JSON.stringify(header), "utf8");
  const prelude = Buffer.alloc(9);
  ENVELOPE_MAGIC.copy(prelude, 0);
  prelude.writeUInt8(ENVELOPE_VERSION, 4);
  prelude.writeUInt32BE(headerBytes.length, 5);
  return { body: Buffer.concat([prelude, headerBytes, payload]), sha256, plaintextBytes: plaintext.byteLength };
}

/** Reads an envelope back; throws {@link CheckpointCorruptedError} for anything not intact. */
export async function open(body: Uint8Array, key?: string): Promise<Opened> {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const corrupted = (why: string, cause?: unknown) =>
    new CheckpointCorruptedError(`object ${key ?? "(body)"} is not a readable checkpoint envelope: ${why}`, { key, cause });
  if (buf.length < 9 || !buf.subarray(0, 4).equals(ENVELOPE_MAGIC)) throw corrupted("missing envelope magic");
  const version = buf.readUInt8(4);
  if (version !== ENVELOPE_VERSION) throw corrupted(`envelope format ${version} is newer than this library reads; upgrade langgraph-checkpoint-s3`);
  const headerLength = buf.readUInt32BE(5);
  if (9 + headerLength > buf.length) throw corrupted("truncated header");
  let header: EnvelopeHeader;
  try {
    header = JSON.parse(buf.subarray(9, 9 + headerLength).toString("utf8")) as EnvelopeHeader;
  } catch (e) {
    throw corrupted("header is not JSON", e);
  }
  if (typeof header.n !== "number" || typeof header.h !== "string") throw corrupted("header lacks length or checksum");
  const payload = buf.subarray(9 + headerLength);
  let plaintext: Buffer;
  try {
    if (header.c === "zstd") plaintext = await zstdDecompress(payload, header.n);
    else if (header.c === "none") plaintext = payload;
    else throw corrupted(`unknown codec ${JSON.stringify(header.c)}`);
  } catch (e) {
    if (e instanceof CheckpointCorruptedError) throw e;
    throw corrupted("payload does not decompress", e);
  }
  if (plaintext.length !== header.n || createHash("sha256").update(plaintext).digest("hex") !== header.h) {
    throw corrupted("checksum mismatch");
  }
  return { plaintext, header };
}

// ---- zstd ---------------------------------------------------------------------------------

type ZlibZstd = {
  zstdCompress: (buf: Uint8Array, opts: object, cb: (err: Error | null, out: Buffer) => void) => void;
  zstdDecompress: (buf: Uint8Array, opts: object, cb: (err: Error | null, out: Buffer) => void) => void;
  constants: Record<string, number>;
};
const nativeZstd = typeof (zlib as unknown as Partial<ZlibZstd>).zstdCompress === "function" ? (zlib as unknown as ZlibZstd) : undefined;

/** `"node:zlib"` on Node 22.15+, `"zstd-codec"` before. */
export const zstdImplementation: "node:zlib" | "zstd-codec" = nativeZstd ? "node:zlib" : "zstd-codec";

interface ZstdStreaming {
  compressChunks(chunks: Uint8Array[], sizeHint: number, level: number): Uint8Array | null;
  decompressChunks(chunks: Uint8Array[], sizeHint: number): Uint8Array | null;
}
let streaming: Promise<ZstdStreaming> | undefined;

function wasmZstd(): Promise<ZstdStreaming> {
  streaming ??= import("zstd-codec").then(
    (mod) =>
      new Promise<ZstdStreaming>((resolve) => {
        const { ZstdCodec } = (mod as { default?: { ZstdCodec: unknown }; ZstdCodec?: unknown }).default ?? (mod as { ZstdCodec: unknown });
        (ZstdCodec as { run(cb: (z: { Streaming: new () => ZstdStreaming }) => void): void }).run((z) => resolve(new z.Streaming()));
      }),
  );
  return streaming;
}

function chunks(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < buf.byteLength; offset += CHUNK_BYTES) out.push(buf.subarray(offset, offset + CHUNK_BYTES));
  return out;
}

export async function zstdCompress(input: Uint8Array, level: number): Promise<Buffer> {
  if (nativeZstd) {
    const params = { [nativeZstd.constants.ZSTD_c_compressionLevel!]: level, [nativeZstd.constants.ZSTD_c_checksumFlag!]: 1 };
    return promisify(nativeZstd.zstdCompress)(input, { params, pledgedSrcSize: input.byteLength });
  }
  return wasmZstdCompress(input, level);
}

/** zstd-codec, fed in 1 MiB chunks (exported for the cross-implementation tests). */
export async function wasmZstdCompress(input: Uint8Array, level: number): Promise<Buffer> {
  const z = await wasmZstd();
  const out = z.compressChunks(chunks(input), input.byteLength, Math.min(level, WASM_MAX_ZSTD_LEVEL));
  if (!out) throw new Error("zstd compression failed");
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export async function zstdDecompress(input: Uint8Array, expectedBytes: number): Promise<Buffer> {
  if (nativeZstd) return promisify(nativeZstd.zstdDecompress)(input, {});
  return wasmZstdDecompress(input, expectedBytes);
}

/** zstd-codec, fed in 1 MiB chunks (exported for the cross-implementation tests). */
export async function wasmZstdDecompress(input: Uint8Array, expectedBytes: number): Promise<Buffer> {
  const z = await wasmZstd();
  if (input.byteLength === 0) throw new Error("empty zstd frame");
  const out = z.decompressChunks(chunks(input), Math.max(expectedBytes, 1));
  if (!out) throw new Error("zstd decompression failed");
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}
