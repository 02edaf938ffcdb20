/**
 * Client-side encryption: AES-256-GCM from `node:crypto`, compress then encrypt, a fresh random
 * 96-bit nonce per object, keys picked by id so they can rotate.
 *
 * The payload is encrypted in chunks of {@link CHUNK_BYTES}, each with its own tag:
 *
 * ```text
 * chunk i:  AES-256-GCM(key, nonce XOR i, chunk, AAD = envelope AAD || u32 i || u8 last)
 * payload:  ciphertext 0 || tag 0 || ciphertext 1 || tag 1 || …
 * ```
 *
 * The envelope AAD (codec.ts) is the stored header (key id, nonce, algorithm, lengths included)
 * followed by the object's S3 key, so a body moved to another key, thread or namespace fails to
 * decrypt. The chunk index in the nonce and the AAD detects reordered chunks; the `last` flag
 * detects a payload cut at a chunk boundary. Every failure is a `DecryptionFailedError`, never a
 * wrong state.
 *
 * Nothing in the format needs the payload's length up front, so a large payload is encrypted as
 * a stream (`encryptStream`, the same bytes as `encrypt` of the whole): the zstd frames of a
 * large state are encrypted a chunk at a time as the multipart upload takes them. Decryption
 * authenticates chunk by chunk into one buffer (or in place, into the ciphertext's own memory).
 *
 * The clear header carries a digest of the plaintext; with encryption on it is an HMAC under a
 * key derived from the data key (HKDF), so equal or guessable plaintexts cannot be recognised
 * without the key.
 */

import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { inspect } from "node:util";
import type { EncryptionMeta, EncryptionStart, EnvelopeCipher } from "./codec.js";
import { MIN_CIPHER_CHUNK_BYTES } from "./codec.js";
import { DecryptionFailedError, InvalidOptionError } from "./errors.js";
import { Pacer } from "./zstd.js";

/** The `alg` of the envelope header. */
export const ALGORITHM = "A256GCM-CHUNKED";
/** Plaintext bytes per chunk: each has its own 16-byte tag. */
export const CHUNK_BYTES = 1 << 20;
/** Largest chunk size a reader accepts from a header. */
const MAX_CHUNK_BYTES = 16 << 20;
const TAG_BYTES = 16;
const NONCE_BYTES = 12;
const KEY_BYTES = 32;
/** Key ids: short, printable, safe in logs and headers. */
const KEY_ID = /^[A-Za-z0-9._:/+=-]{1,512}$/;

/**
 * Where keys come from: the id of the key new objects are written with, and any key by id.
 * A KMS plugs in here (see {@link kmsKeyProvider}).
 */
export interface KeyProvider {
  currentKeyId(): string | Promise<string>;
  getKey(keyId: string): Promise<Uint8Array>;
  /**
   * Whether an object under `keyId` is under the current key, so `reencryptThread` leaves it
   * alone. For providers whose key ids change while the key behind them does not (the data
   * keys of {@link kmsKeyProvider} under one KMS key). @default `keyId === currentKeyId()`
   */
  isCurrent?(keyId: string): boolean | Promise<boolean>;
}

/** A static keyring: keys by id (32 bytes, or base64 of 32 bytes) and the one to write with. */
export interface Keyring {
  keys: Record<string, Uint8Array | string>;
  currentKeyId: string;
}

/**
 * Option `encryption`: a keyring or a key provider, and whether objects without encryption are
 * refused (`required`, default false: an encrypting checkpointer reads older plaintext objects).
 */
export type EncryptionOptions = (Keyring | KeyProvider) & {
  /** Refuse to read objects that are not encrypted. @default false */
  required?: boolean;
};

/** Generates a new 256-bit key, base64-encoded (the same as `openssl rand -base64 32`). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

function isProvider(o: object): o is KeyProvider {
  return typeof (o as KeyProvider).currentKeyId === "function" && typeof (o as KeyProvider).getKey === "function";
}

function keyBytes(id: string, key: unknown): Buffer {
  let bytes: Buffer | undefined;
  if (typeof key === "string") {
    const trimmed = key.trim();
    if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) bytes = Buffer.from(trimmed, "base64");
  } else if (key instanceof Uint8Array) {
    bytes = Buffer.from(key);
  }
  if (!bytes || bytes.length !== KEY_BYTES) {
    // the message names the key id, never the key
    throw new InvalidOptionError(
      `option \`encryption.keys\`: key ${JSON.stringify(id)} must be 32 bytes (a Uint8Array, or base64 of 32 bytes: \`openssl rand -base64 32\`)`,
    );
  }
  return bytes;
}

function checkKeyId(id: unknown, where: string): string {
  if (typeof id !== "string" || !KEY_ID.test(id)) {
    throw new InvalidOptionError(
      `${where} must be a key id of 1 to 512 characters [A-Za-z0-9._:/+=-]; got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

/** A keyring as a provider; its keys are copied, so the caller's buffers may be wiped. */
function keyringProvider(ring: Keyring): KeyProvider {
  if (ring.keys === null || typeof ring.keys !== "object") {
    throw new InvalidOptionError("option `encryption.keys` must be an object of key id → key");
  }
  const keys = new Map<string, Buffer>();
  for (const [id, key] of Object.entries(ring.keys))
    keys.set(checkKeyId(id, "a key id of `encryption.keys`"), keyBytes(id, key));
  const current = checkKeyId(ring.currentKeyId, "option `encryption.currentKeyId`");
  if (!keys.has(current)) {
    throw new InvalidOptionError(
      `option \`encryption.currentKeyId\` names ${JSON.stringify(current)}, which is not in \`encryption.keys\``,
    );
  }
  return {
    currentKeyId: () => current,
    getKey: async (id) => {
      const key = keys.get(id);
      if (!key)
        throw new DecryptionFailedError(
          `no key with id ${JSON.stringify(id)} in the keyring; add it to \`encryption.keys\``,
        );
      return key;
    },
  };
}

/** The cipher of option `encryption` (validated here, once). */
export function createCipher(options: EncryptionOptions, onPlaintext?: (key: string) => void): EnvelopeCipher {
  if (options === null || typeof options !== "object") {
    throw new InvalidOptionError(
      "option `encryption` must be `{ keys, currentKeyId }` or a key provider `{ currentKeyId(), getKey(id) }`",
    );
  }
  if (options.required !== undefined && typeof options.required !== "boolean") {
    throw new InvalidOptionError("option `encryption.required` must be a boolean");
  }
  const provider = isProvider(options) ? options : keyringProvider(options as Keyring);
  return new AesGcmCipher(provider, options.required ?? false, onPlaintext);
}

/** Derived keys per key id: the HMAC key of the clear digest. */
function digestKey(key: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "langgraph-checkpoint-s3 digest", KEY_BYTES));
}

function chunkNonce(base: Buffer, index: number): Buffer {
  const nonce = Buffer.from(base);
  nonce.writeUInt32BE((nonce.readUInt32BE(NONCE_BYTES - 4) ^ index) >>> 0, NONCE_BYTES - 4);
  return nonce;
}

function chunkAad(aad: Uint8Array, index: number, last: boolean): Buffer {
  const suffix = Buffer.alloc(5);
  suffix.writeUInt32BE(index, 0);
  suffix.writeUInt8(last ? 1 : 0, 4);
  return Buffer.concat([aad, suffix]);
}

class AesGcmCipher implements EnvelopeCipher {
  constructor(
    private readonly provider: KeyProvider,
    readonly required: boolean,
    private readonly plaintextSeen?: (key: string) => void,
  ) {}

  onPlaintext(key: string): void {
    this.plaintextSeen?.(key);
  }

  async begin(): Promise<EncryptionStart> {
    const kid = checkKeyId(await this.provider.currentKeyId(), "the current key id of the key provider");
    const key = await this.key(kid);
    const nonce = randomBytes(NONCE_BYTES);
    const meta: EncryptionMeta = { alg: ALGORITHM, kid, iv: nonce.toString("base64url"), cs: String(CHUNK_BYTES) };
    const sealChunk = (chunk: Uint8Array, index: number, last: boolean, aad: Uint8Array) => {
      const cipher = createCipheriv("aes-256-gcm", key, chunkNonce(nonce, index));
      cipher.setAAD(chunkAad(aad, index, last));
      return Buffer.concat([cipher.update(chunk), cipher.final(), cipher.getAuthTag()]);
    };
    return {
      meta,
      encrypt: (payload, aad) => {
        const count = Math.max(1, Math.ceil(payload.byteLength / CHUNK_BYTES));
        const out: Buffer[] = [];
        for (let i = 0; i < count; i += 1) {
          out.push(sealChunk(payload.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES), i, i === count - 1, aad));
        }
        return Buffer.concat(out);
      },
      // the same bytes as `encrypt` of the whole payload: a full chunk is held back until more
      // bytes come (it is then not the last) or the payload ends (it is), so what is held is one
      // chunk and what the caller's iterable yields at a time
      encryptStream: async function* (payload, aad) {
        const pending = Buffer.allocUnsafe(CHUNK_BYTES);
        let filled = 0;
        let index = 0;
        for await (const piece of payload) {
          for (let offset = 0; offset < piece.byteLength;) {
            if (filled === CHUNK_BYTES) {
              yield sealChunk(pending, index, false, aad);
              index += 1;
              filled = 0;
            }
            const take = Math.min(CHUNK_BYTES - filled, piece.byteLength - offset);
            pending.set(piece.subarray(offset, offset + take), filled);
            filled += take;
            offset += take;
          }
        }
        yield sealChunk(pending.subarray(0, filled), index, true, aad);
      },
    };
  }

  async open(
    meta: EncryptionMeta,
    ciphertext: Uint8Array,
    aad: Uint8Array,
    options: { inPlace?: boolean } = {},
  ): Promise<Uint8Array> {
    if (meta.alg !== ALGORITHM)
      throw new DecryptionFailedError(`unknown encryption algorithm ${JSON.stringify(meta.alg)}`);
    const nonce = Buffer.from(meta.iv ?? "", "base64url");
    const chunk = Number(meta.cs);
    if (
      nonce.length !== NONCE_BYTES ||
      !Number.isSafeInteger(chunk) ||
      chunk < MIN_CIPHER_CHUNK_BYTES ||
      chunk > MAX_CHUNK_BYTES
    ) {
      throw new DecryptionFailedError("malformed encryption metadata (nonce or chunk size)");
    }
    const key = await this.key(meta.kid);
    const stride = chunk + TAG_BYTES;
    const count = Math.max(1, Math.ceil(ciphertext.byteLength / stride));
    if (ciphertext.byteLength < TAG_BYTES) throw new DecryptionFailedError("the encrypted payload is truncated");
    const input = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
    // the plaintext goes into one buffer as each chunk is authenticated (no list of chunks joined
    // at the end); `inPlace` reuses the ciphertext's own memory: chunk i's plaintext lands at
    // i × chunk, before chunk i's ciphertext, which has been read by then, and never over a tag
    // not yet checked, so a large body is held once
    const out = options.inPlace ? input : Buffer.allocUnsafe(ciphertext.byteLength - count * TAG_BYTES);
    let produced = 0;
    // a large payload is hundreds of chunks (256 MiB took 0.3-1 s): the event loop gets its turns
    const pacer = new Pacer();
    for (let i = 0; i < count; i += 1) {
      if (i > 0) await pacer.pause();
      const part = input.subarray(i * stride, (i + 1) * stride);
      if (part.byteLength < TAG_BYTES) throw new DecryptionFailedError("the encrypted payload is truncated");
      const decipher = createDecipheriv("aes-256-gcm", key, chunkNonce(nonce, i));
      decipher.setAAD(chunkAad(aad, i, i === count - 1));
      decipher.setAuthTag(part.subarray(part.byteLength - TAG_BYTES));
      const plain = decipher.update(part.subarray(0, part.byteLength - TAG_BYTES));
      decipher.final(); // throws when the chunk is not authentic
      plain.copy(out, produced);
      produced += plain.byteLength;
    }
    return out.subarray(0, produced);
  }

  async digest(meta: EncryptionMeta, sha256: string): Promise<string> {
    const key = await this.key(meta.kid);
    return createHmac("sha256", digestKey(key)).update(sha256, "utf8").digest("hex");
  }

  /** Whether objects under `kid` need no re-encryption (see {@link KeyProvider.isCurrent}). */
  async isCurrentKey(kid: string): Promise<boolean> {
    if (this.provider.isCurrent) return this.provider.isCurrent(kid);
    return kid === (await this.provider.currentKeyId());
  }

  currentKeyId(): Promise<string> {
    return Promise.resolve(this.provider.currentKeyId());
  }

  private async key(kid: string): Promise<Uint8Array> {
    let key: Uint8Array;
    try {
      key = await this.provider.getKey(kid);
    } catch (e) {
      if (e instanceof DecryptionFailedError) throw e;
      throw new DecryptionFailedError(`the key provider could not give key ${JSON.stringify(kid)}`, { cause: e });
    }
    if (!(key instanceof Uint8Array) || key.byteLength !== KEY_BYTES) {
      throw new DecryptionFailedError(`the key provider gave key ${JSON.stringify(kid)} not as 32 bytes`);
    }
    return key;
  }

  /** Keys stay out of logs and `util.inspect`. */
  [inspect.custom](): string {
    return `AesGcmCipher { required: ${this.required} }`;
  }

  toJSON(): object {
    return { required: this.required };
  }
}

/** The current key id of a cipher made by {@link createCipher}, `undefined` for others. */
export function currentKeyIdOf(cipher: EnvelopeCipher): Promise<string> | undefined {
  return cipher instanceof AesGcmCipher ? cipher.currentKeyId() : undefined;
}

/** Whether an object encrypted under `kid` (`undefined`: not encrypted) is under the current key. */
export async function isCurrentKeyOf(cipher: EnvelopeCipher, kid: string | undefined): Promise<boolean> {
  return kid !== undefined && cipher instanceof AesGcmCipher && cipher.isCurrentKey(kid);
}
