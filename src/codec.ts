/**
 * The envelope every object body is wrapped in.
 *
 * ```text
 * version 2 (written):
 *   "LGS3"  u8 2  u32 header length (big-endian)  header (JSON)  SHA-256 of all bytes before it  payload
 * version 1 (read):
 *   "LGS3"  u8 1  u32 header length (big-endian)  header (JSON)  payload
 * ```
 *
 * The header says how to read the payload: codec, plaintext length, SHA-256 of the plaintext,
 * the serde type where the body is a single value, the SHA-256 of the S3 key the body was
 * sealed for (version 2), and encryption (reserved, `e`). The header digest makes the header
 * itself tamper-evident; with the plaintext digest inside it, it covers header and plaintext.
 * Old objects stay readable when defaults change, because the reader follows the header, not
 * the options.
 *
 * Key binding: a body sealed for one key and found under another (copied there by hand, by a
 * server-side copy, or by someone with write access to the bucket) is refused, so one thread's
 * state can never be served as another's. Version-1 bodies carry no binding: {@link Opened}
 * says so (`keyBound: false`), and the reader checks the record's own thread, namespace and id
 * against its key instead.
 *
 * Decoding is bounded: a body longer than its limit is refused before anything is read, the
 * declared length must be within `maxBytes` before anything is decoded, decompression stops at
 * the declared length (see zstd.ts), and hashing gives the event loop a turn every few ms.
 *
 * Encryption seam (AES-256-GCM in crypto.ts): a {@link EnvelopeCipher} passed to {@link seal}
 * and {@link open} encrypts the compressed payload. Its `begin()` returns the metadata stored in
 * the clear in the header's `e` (`alg`, `kid`, nonce, …), an `encrypt(payload, aad)` and, for
 * large bodies sealed as a stream, an `encryptStream(pieces, aad)`; its `open(e, ciphertext,
 * aad)` decrypts. The AAD is the stored header bytes (magic to the end of
 * the header JSON, `e` included) followed by the UTF-8 object key, so an AEAD such as
 * AES-256-GCM authenticates the header and binds the ciphertext to its key. The plaintext
 * digest `h` stays in the clear header: with encryption on, it reveals which objects hold
 * equal plaintexts, so an encrypting writer may want to key it (HMAC) in a later version.
 */

import { createHash } from "node:crypto";
import {
  CheckpointCorruptedError,
  DecryptionFailedError,
  InvalidArgumentError,
  isS3CheckpointerError,
} from "./errors.js";
import { release } from "./release.js";
import { Pacer, slices, zstdCompress, zstdDecompress, zstdFrames } from "./zstd.js";

export {
  MAX_ZSTD_LEVEL,
  MAX_ZSTD_WINDOW_BYTES,
  WASM_MAX_ZSTD_LEVEL,
  jsZstdDecompress,
  wasmZstdCompress,
  zstdCompress,
  zstdDecompress,
  zstdImplementation,
} from "./zstd.js";

export const ENVELOPE_MAGIC = Buffer.from("LGS3", "ascii");
/** The format written. Version 1 (no header digest, no key binding) is still read. */
export const ENVELOPE_VERSION = 2;
/**
 * Default bound on the plaintext of one object (a record, a writes object, one channel value).
 * 256 MiB is far above any state that is practical to checkpoint (each large channel value is
 * an object of its own), and keeps what a hostile or broken object can cost bounded: decoding
 * holds about twice the plaintext at its peak, per concurrent read, and the pure-JavaScript
 * decoder of Node 20 needs about a second per 100–200 MB.
 */
export const DEFAULT_MAX_OBJECT_BYTES = 256 * 1024 * 1024;
/** Longest header accepted: ours are about 200 bytes; JSON.parse of megabytes would block. */
export const MAX_HEADER_BYTES = 64 * 1024;

const PRELUDE_BYTES = 9;
const HEADER_DIGEST_BYTES = 32;
/**
 * Room for what a cipher adds to a payload of `n` bytes in the payload bound: a 16-byte tag per
 * chunk of at least {@link MIN_CIPHER_CHUNK_BYTES}, and some slack.
 */
const cipherOverheadBytes = (n: number) => 16 * (Math.ceil(n / MIN_CIPHER_CHUNK_BYTES) + 1) + 1024;
/** Smallest chunk a chunked cipher may use (crypto.ts writes 1 MiB chunks). */
export const MIN_CIPHER_CHUNK_BYTES = 4096;
/**
 * Plaintexts larger than this are sealed as a stream ({@link sealStream}): zstd frames of this
 * much plaintext each, compressed one at a time as the upload takes them. The multipart upload's
 * part size (8 MiB by default) is the natural unit; measured on 32 MB of state-like text at
 * level 3, frames of 4, 8 and 32 MiB compress alike (ratio 5.57 each).
 */
export const STREAM_FRAME_BYTES = 8 * 1024 * 1024;
/** Hashing runs over slices of this size between looks at the clock. */
const HASH_SLICE_BYTES = 1 << 20;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const CODECS: readonly string[] = ["zstd", "none"];

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

/** Encryption metadata stored in the clear in the header (`e`): algorithm, key id, nonce, … */
export interface EncryptionMeta {
  readonly alg: string;
  readonly kid: string;
  readonly [field: string]: string;
}

/**
 * A cipher for the payload (the seam for client-side encryption; see the module comment).
 * Both functions may be async. `open` throws {@link DecryptionFailedError} for a body that is
 * not authentic; anything else it throws is reported as one.
 */
export interface EnvelopeCipher {
  /** Starts one object: its metadata (`alg`, `kid`, nonce, …), its encryption, its keyed digest. */
  begin(): Promise<EncryptionStart> | EncryptionStart;
  /**
   * Decrypts a payload. With `inPlace` the cipher may write the plaintext into the ciphertext's
   * memory (the caller owns the body and does not read it again).
   */
  open(
    meta: EncryptionMeta,
    ciphertext: Uint8Array,
    aad: Uint8Array,
    options?: { inPlace?: boolean },
  ): Uint8Array | Promise<Uint8Array>;
  /**
   * The digest stored in the clear header (and the object's metadata) of an encrypted object, from
   * the plaintext's SHA-256: keyed, so equal plaintexts cannot be found or guessed without the key.
   */
  digest(meta: EncryptionMeta, sha256: string): string | Promise<string>;
  /** Refuse objects that are not encrypted. */
  readonly required?: boolean;
  /** Told when an object without encryption is read (an encrypting reader of older objects). */
  onPlaintext?(key: string): void;
}

export interface EncryptionStart {
  meta: EncryptionMeta;
  encrypt(payload: Uint8Array, aad: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * The ciphertext of a payload that comes in pieces, made as it is read (each call anew), the
   * same as {@link encrypt} of the pieces joined. Without it, large bodies are sealed whole.
   */
  encryptStream?(payload: AsyncIterable<Uint8Array>, aad: Uint8Array): AsyncIterable<Uint8Array>;
}

/** What the header of an envelope records. */
export interface EnvelopeHeader {
  /** codec of the payload */
  c: CompressionCodec;
  /** plaintext length in bytes */
  n: number;
  /** SHA-256 of the plaintext, hex */
  h: string;
  /** SHA-256 of the S3 key the body was sealed for, hex (version 2; absent in version 1) */
  k?: string;
  /** serde type of the value, for bodies that hold one serialized value */
  t?: string;
  /** encryption metadata; absent when the payload is not encrypted */
  e?: EncryptionMeta;
}

export interface SealOptions {
  compression: ResolvedCompression;
  /** The S3 key the body will be stored under: bound into the header, checked by {@link open}. */
  key: string;
  /** Serde type of the value, for bodies that hold one serialized value. */
  type?: string;
  /** Refuse a plaintext larger than this (readers would refuse the object). @default no bound */
  maxBytes?: number;
  cipher?: EnvelopeCipher;
}

export interface Sealed {
  body: Buffer;
  /** The header's digest, hex: SHA-256 of the plaintext, keyed when encrypted (stored as metadata too). */
  sha256: string;
  /** SHA-256 of the plaintext, hex, never keyed: for records to name a value's content by. */
  plaintextSha256: string;
  plaintextBytes: number;
}

/** A body produced while it is sent: the bytes in order, made anew by each call. */
export interface StreamedBody {
  stream(): AsyncIterable<Uint8Array>;
}

/** What {@link sealStream} gives: a whole body, or one streamed. */
export interface SealedStream extends Omit<Sealed, "body"> {
  body: Buffer | StreamedBody;
}

export interface OpenOptions {
  /** The S3 key the body was read from: named in errors, and checked against the binding. */
  key: string;
  /**
   * The caller owns `body` and will not read it again: an encrypted payload is decrypted in its
   * memory, so a large body is not held twice, and a large body whose plaintext was decoded into
   * memory of its own is given back once it is read (Node.js 22+; it reads as empty afterwards,
   * see release.ts). @default false
   */
  consume?: boolean;
  /** Largest plaintext accepted. @default DEFAULT_MAX_OBJECT_BYTES */
  maxBytes?: number;
  cipher?: EnvelopeCipher;
}

export interface Opened {
  plaintext: Buffer;
  /** SHA-256 of the plaintext, hex (checked against the header) */
  sha256: string;
  header: EnvelopeHeader;
  /** Envelope format of the body: 1 (old) or 2. */
  version: number;
  /**
   * True when the body names the key it was read from (version 2). False for a version-1 body,
   * which names no key: the caller must check the content against the key (for a record, its
   * own thread, namespace and id).
   */
  keyBound: boolean;
}

/**
 * The longest body {@link open} accepts for a `maxBytes` bound: the prelude, the longest
 * header, the digest and a payload that cannot be compressed. A store can refuse to download
 * anything longer (its `Content-Length`), before a byte of it is held in memory.
 *
 * @example
 * ```ts
 * if (contentLength > maxEnvelopeBytes(DEFAULT_MAX_OBJECT_BYTES)) throw ...;
 * ```
 */
export function maxEnvelopeBytes(maxBytes: number): number {
  return PRELUDE_BYTES + MAX_HEADER_BYTES + HEADER_DIGEST_BYTES + maxPayloadBytes(maxBytes, true);
}

/** Bound on the stored payload of `n` plaintext bytes: zstd adds well under n/128 + 1 KiB. */
function maxPayloadBytes(n: number, encrypted: boolean): number {
  const compressed = n + Math.floor(n / 128) + 1024;
  return compressed + (encrypted ? cipherOverheadBytes(compressed) : 0);
}

/**
 * Wraps a plaintext (one buffer, or its parts in order) in an envelope bound to `key`,
 * compressed as `compression` says, encrypted when a `cipher` is given.
 *
 * @example
 * ```ts
 * const { body, sha256 } = await seal(bytes, { compression: resolveCompression({}), key });
 * ```
 */
export async function seal(plaintext: Uint8Array | readonly Uint8Array[], options: SealOptions): Promise<Sealed> {
  const { compression, key, type, cipher } = options;
  const { parts, plaintextBytes } = sealable(plaintext, options);
  const sha256 = await digestOf(parts, new Pacer());
  const compressed =
    compression.codec === "zstd"
      ? await zstdCompress(parts.length === 1 ? parts[0]! : parts, compression.level)
      : Buffer.concat(parts, plaintextBytes);
  const header: EnvelopeHeader = { c: compression.codec, n: plaintextBytes, h: sha256, k: keyDigest(key) };
  if (type !== undefined) header.t = type;
  const started = cipher ? await cipher.begin() : undefined;
  if (started) {
    header.e = started.meta;
    header.h = await cipher!.digest(started.meta, sha256);
  }
  const stored = storedHeader(header, key);
  const payload = started ? await started.encrypt(compressed, additionalData(stored, key)) : compressed;
  const digest = createHash("sha256").update(stored).digest();
  return { body: Buffer.concat([stored, digest, payload]), sha256: header.h, plaintextSha256: sha256, plaintextBytes };
}

/**
 * {@link seal} for bodies that may be large: a plaintext above {@link STREAM_FRAME_BYTES} is
 * sealed as a stream (the same envelope, its payload zstd frames of `STREAM_FRAME_BYTES` made
 * as the bytes are sent, encrypted a chunk at a time when a cipher is given), so neither the
 * compressed payload, nor its ciphertext, nor the body is ever held whole. The plaintext is
 * hashed first: the header, which comes first, names its digest. Smaller plaintexts, and
 * encrypted ones whose cipher cannot encrypt a stream, are sealed whole.
 *
 * @example
 * ```ts
 * const { body } = await sealStream(bytes, { compression, key, cipher });
 * await store.put(key, body, { sha256 });
 * ```
 */
export async function sealStream(
  plaintext: Uint8Array | readonly Uint8Array[],
  options: SealOptions,
): Promise<SealedStream> {
  const { compression, key, type, cipher } = options;
  const { parts, plaintextBytes } = sealable(plaintext, options);
  if (plaintextBytes <= STREAM_FRAME_BYTES) return seal(parts, options);
  const started = cipher ? await cipher.begin() : undefined;
  if (started && !started.encryptStream) return seal(parts, options);
  const frames = () =>
    compression.codec === "zstd"
      ? zstdFrames(parts, compression.level, STREAM_FRAME_BYTES)
      : (function* () {
          for (const group of slices(parts, STREAM_FRAME_BYTES)) yield* group;
        })();
  // the first frames are compressed (in the thread pool, with node:zlib) while the plaintext is
  // hashed here; the first pass of the body sends them, a retried pass compresses anew
  let warm: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined = frames();
  const sha256 = await digestOf(parts, new Pacer());
  const header: EnvelopeHeader = { c: compression.codec, n: plaintextBytes, h: sha256, k: keyDigest(key) };
  if (type !== undefined) header.t = type;
  if (started) {
    header.e = started.meta;
    header.h = await cipher!.digest(started.meta, sha256);
  }
  const stored = storedHeader(header, key);
  const digest = createHash("sha256").update(stored).digest();
  const aad = additionalData(stored, key);
  const compressed = async function* () {
    const source = warm ?? frames();
    warm = undefined;
    yield* source;
  };
  const body: StreamedBody = {
    async *stream() {
      yield stored;
      yield digest;
      // each pass (a retried upload) compresses and encrypts anew under the same nonce; zstd is
      // deterministic for one input and level, so a pass repeats the same ciphertext, never
      // other plaintext under a used nonce
      yield* started ? started.encryptStream!(compressed(), aad) : compressed();
    },
  };
  return { body, sha256: header.h, plaintextSha256: sha256, plaintextBytes };
}

/** The parts of a plaintext and their length, refused when readers would refuse the object. */
function sealable(
  plaintext: Uint8Array | readonly Uint8Array[],
  options: SealOptions,
): { parts: readonly Uint8Array[]; plaintextBytes: number } {
  const { key, maxBytes } = options;
  const parts: readonly Uint8Array[] = plaintext instanceof Uint8Array ? [plaintext] : plaintext;
  const plaintextBytes = parts.reduce((sum, part) => sum + part.byteLength, 0);
  if (maxBytes !== undefined && plaintextBytes > maxBytes) {
    throw new InvalidArgumentError(
      `object ${key} would hold ${plaintextBytes} bytes, more than maxObjectBytes (${maxBytes}), ` +
        "and readers would refuse it; " +
        "store less in one value, or raise `maxObjectBytes` on every reader and writer",
      { key },
    );
  }
  return { parts, plaintextBytes };
}

/**
 * Reads an envelope back. Throws {@link CheckpointCorruptedError} (naming the key) for anything
 * not intact, not bound to `key`, or larger than `maxBytes`, and {@link DecryptionFailedError}
 * for an encrypted body that cannot be decrypted; never anything untyped.
 *
 * @example
 * ```ts
 * const { plaintext, keyBound } = await open(object.body, { key, maxBytes });
 * ```
 */
export async function open(body: Uint8Array, options: OpenOptions): Promise<Opened> {
  const { key, cipher } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const corrupted = corruption(key);
  if (buf.length > maxEnvelopeBytes(maxBytes)) {
    throw corrupted(
      `its ${buf.length} bytes are more than an object within maxObjectBytes (${maxBytes}) can take; ` +
        "raise the option if such objects are expected",
    );
  }
  const { header, version, stored, payload } = parseEnvelope(buf, key);
  // an encrypted body that is not authentic is a decryption failure, whatever part was altered
  const fail = header.e ? altered(key, header.e) : corrupted;
  if (version >= 2 && header.k !== keyDigest(key)) {
    throw fail("it was sealed for another key (copied or moved here from elsewhere), so it is not this key's content");
  }
  if (header.n > maxBytes) {
    throw corrupted(
      `it declares ${header.n} bytes, more than maxObjectBytes (${maxBytes}); ` +
        "raise the option if such objects are expected",
    );
  }
  if (payload.length > maxPayloadBytes(header.n, header.e !== undefined)) {
    throw corrupted(`its payload of ${payload.length} bytes is longer than ${header.n} bytes of content can be`);
  }
  let compressed: Uint8Array = payload;
  if (header.e)
    compressed = await decrypt(header.e, payload, additionalData(stored, key), key, cipher, options.consume);
  else if (cipher?.required) {
    throw new DecryptionFailedError(
      `object ${key} is not encrypted, and option \`encryption.required\` refuses such objects; ` +
        "re-encrypt the thread (reencryptThread) or turn the option off to read it",
      { key },
    );
  } else cipher?.onPlaintext?.(key);
  let plaintext: Buffer;
  let sha256: string;
  if (header.c === "none") {
    if (compressed.byteLength !== header.n)
      throw corrupted(`it holds ${compressed.byteLength} bytes, not the ${header.n} it declares`);
    plaintext = Buffer.from(compressed.buffer, compressed.byteOffset, compressed.byteLength);
    sha256 = await digestOf([plaintext], new Pacer());
  } else {
    // hashed as it is decoded: the next frames decode (in the thread pool) meanwhile
    const hash = createHash("sha256");
    try {
      plaintext = await zstdDecompress(compressed, header.n, (chunk) => hash.update(chunk));
    } catch (e) {
      throw corrupted(`its payload does not decompress (${(e as Error).message})`, e);
    }
    sha256 = hash.digest("hex");
  }
  const expected = header.e && cipher ? await cipher.digest(header.e, sha256) : sha256;
  if (expected !== header.h) throw fail("checksum mismatch");
  // the caller's body is read no more; unless the plaintext lives in it (no compression), its
  // memory goes back now, before the plaintext is parsed
  if (options.consume && plaintext.buffer !== body.buffer) release(body);
  return { plaintext, sha256, header, version, keyBound: version >= 2 };
}

/**
 * Re-binds a sealed body from one key to another without decompressing it (a version-1 body
 * is upgraded to version 2 on the way), for copies of objects: a server-side copy would keep
 * the old binding and the copy would be refused. The header and the binding to `from` are
 * checked; the payload is checked when the copy is opened. An encrypted body needs its cipher.
 *
 * @example
 * ```ts
 * const moved = await rebind(object.body, { from: sourceKey, to: targetKey });
 * await store.put(targetKey, moved.body, { sha256: moved.sha256 });
 * ```
 */
export async function rebind(
  body: Uint8Array,
  options: { from: string; to: string; maxBytes?: number; cipher?: EnvelopeCipher },
): Promise<{ body: Buffer; sha256: string }> {
  const { from, to, cipher } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const corrupted = corruption(from);
  if (buf.length > maxEnvelopeBytes(maxBytes))
    throw corrupted(`its ${buf.length} bytes are more than maxObjectBytes (${maxBytes}) allows`);
  const { header, version, stored, payload } = parseEnvelope(buf, from);
  if (version >= 2 && header.k !== keyDigest(from))
    throw corrupted("it was sealed for another key, so it is not this key's content");
  const next: EnvelopeHeader = { ...header, k: keyDigest(to) };
  let payloadOut: Uint8Array = payload;
  let started: EncryptionStart | undefined;
  if (header.e) {
    // the AAD names the key: an encrypted payload is decrypted and encrypted anew for `to`
    payloadOut = await decrypt(header.e, payload, additionalData(stored, from), from, cipher);
    started = await cipher!.begin();
    next.e = started.meta;
    // the keyed digest of the new key: found by opening the payload (the old one cannot be undone)
    const plain = await openPayload(next, payloadOut, from);
    next.h = await cipher!.digest(started.meta, await digestOf([plain], new Pacer()));
  }
  const nextStored = storedHeader(next, to);
  if (started) payloadOut = await started.encrypt(payloadOut, additionalData(nextStored, to));
  return {
    body: Buffer.concat([nextStored, createHash("sha256").update(nextStored).digest(), payloadOut]),
    sha256: next.h,
  };
}

// ---- internals ----------------------------------------------------------------------------

/** The plaintext of a (decrypted) payload, for re-keying a digest. */
async function openPayload(header: EnvelopeHeader, payload: Uint8Array, key: string): Promise<Buffer> {
  if (header.c === "none") return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  try {
    return await zstdDecompress(payload, header.n);
  } catch (e) {
    throw corruption(key)(`its payload does not decompress (${(e as Error).message})`, e);
  }
}

/** The error of an encrypted body found altered before or after its decryption. */
function altered(key: string, meta: EncryptionMeta) {
  return (why: string, cause?: unknown) =>
    new DecryptionFailedError(`object ${key} (encrypted, key id ${JSON.stringify(meta.kid)}) was altered: ${why}`, {
      key,
      cause,
    });
}

function corruption(key: string) {
  return (why: string, cause?: unknown) =>
    new CheckpointCorruptedError(`object ${key} is not a readable checkpoint envelope: ${why}`, { key, cause });
}

function keyDigest(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Prelude and header JSON, as stored (the header digest and the AAD are computed over them). */
function storedHeader(header: EnvelopeHeader, key: string): Buffer {
  const json = Buffer.from(JSON.stringify(header), "utf8");
  if (json.length > MAX_HEADER_BYTES) {
    throw new InvalidArgumentError(
      `object ${key}: its envelope header would be ${json.length} bytes (at most ${MAX_HEADER_BYTES}); ` +
        "the serde type is too long",
      { key },
    );
  }
  const prelude = Buffer.alloc(PRELUDE_BYTES);
  ENVELOPE_MAGIC.copy(prelude, 0);
  prelude.writeUInt8(ENVELOPE_VERSION, 4);
  prelude.writeUInt32BE(json.length, 5);
  return Buffer.concat([prelude, json]);
}

function additionalData(stored: Uint8Array, key: string): Buffer {
  return Buffer.concat([stored, Buffer.from(key, "utf8")]);
}

async function digestOf(parts: readonly Uint8Array[], pacer: Pacer): Promise<string> {
  const hash = createHash("sha256");
  for (const part of parts) {
    for (let offset = 0; offset < part.byteLength; offset += HASH_SLICE_BYTES) {
      hash.update(part.subarray(offset, offset + HASH_SLICE_BYTES));
      await pacer.pause();
    }
  }
  return hash.digest("hex");
}

async function decrypt(
  meta: EncryptionMeta,
  payload: Uint8Array,
  aad: Uint8Array,
  key: string,
  cipher: EnvelopeCipher | undefined,
  inPlace = false,
) {
  if (!cipher) {
    throw new DecryptionFailedError(
      `object ${key} is encrypted (${meta.alg}, key id ${JSON.stringify(meta.kid)}); ` +
        "configure encryption with that key to read it",
      { key },
    );
  }
  try {
    return await cipher.open(meta, payload, aad, { inPlace });
  } catch (e) {
    if (isS3CheckpointerError(e)) throw e;
    throw new DecryptionFailedError(
      `object ${key} could not be decrypted (key id ${JSON.stringify(meta.kid)}): wrong key, or the body was altered`,
      {
        key,
        cause: e,
      },
    );
  }
}

interface ParsedEnvelope {
  header: EnvelopeHeader;
  version: number;
  /** prelude and header JSON as stored */
  stored: Buffer;
  payload: Buffer;
}

/** Checks the prelude (and the header digest of version 2) and validates every header field. */
function parseEnvelope(buf: Buffer, key: string): ParsedEnvelope {
  const corrupted = corruption(key);
  if (buf.length < PRELUDE_BYTES || !buf.subarray(0, 4).equals(ENVELOPE_MAGIC))
    throw corrupted("missing envelope magic");
  const version = buf.readUInt8(4);
  if (version > ENVELOPE_VERSION) {
    throw corrupted(`envelope format ${version} is newer than this library reads; upgrade langgraph-checkpoint-s3`);
  }
  if (version < 1)
    throw corrupted(
      `envelope format ${version} was never written by langgraph-checkpoint-s3; the object is damaged or foreign`,
    );
  const headerLength = buf.readUInt32BE(5);
  if (headerLength > MAX_HEADER_BYTES) throw corrupted(`header of ${headerLength} bytes (at most ${MAX_HEADER_BYTES})`);
  const headerEnd = PRELUDE_BYTES + headerLength;
  const payloadStart = version >= 2 ? headerEnd + HEADER_DIGEST_BYTES : headerEnd;
  if (payloadStart > buf.length) throw corrupted("truncated header");
  const stored = buf.subarray(0, headerEnd);
  if (version >= 2 && !createHash("sha256").update(stored).digest().equals(buf.subarray(headerEnd, payloadStart))) {
    // the header of an encrypted body was altered: a decryption failure, as any other change to it
    if (/"e":\{"alg":/.test(stored.subarray(PRELUDE_BYTES).toString("latin1"))) {
      throw new DecryptionFailedError(`object ${key} (encrypted) was altered: header checksum mismatch`, { key });
    }
    throw corrupted("header checksum mismatch");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(stored.subarray(PRELUDE_BYTES)));
  } catch (e) {
    throw corrupted("header is not JSON", e);
  }
  return { header: validateHeader(raw, version, corrupted), version, stored, payload: buf.subarray(payloadStart) };
}

function validateHeader(raw: unknown, version: number, corrupted: (why: string) => Error): EnvelopeHeader {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw corrupted("header is not an object");
  const { c, n, h, k, t, e } = raw as Record<string, unknown>;
  if (typeof c !== "string" || !CODECS.includes(c)) throw corrupted(`unknown codec ${JSON.stringify(c) ?? "(none)"}`);
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw corrupted("header lacks a valid plaintext length");
  if (typeof h !== "string" || !SHA256_HEX.test(h)) throw corrupted("header lacks a valid checksum");
  const header: EnvelopeHeader = { c: c as CompressionCodec, n, h };
  if (version >= 2) {
    if (typeof k !== "string" || !SHA256_HEX.test(k)) throw corrupted("header lacks a valid key binding");
    header.k = k;
  }
  if (t !== undefined) {
    if (typeof t !== "string") throw corrupted("header has a serde type that is not a string");
    header.t = t;
  }
  if (e !== undefined) {
    // version 1 never had encryption
    if (version < 2 || typeof e !== "object" || e === null || Array.isArray(e))
      throw corrupted("header has malformed encryption metadata");
    const fields = e as Record<string, unknown>;
    if (!Object.values(fields).every((v) => typeof v === "string") || !fields.alg || !fields.kid) {
      throw corrupted("header has malformed encryption metadata");
    }
    header.e = fields as EncryptionMeta;
  }
  return header;
}
