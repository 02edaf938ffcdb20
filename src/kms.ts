/**
 * Envelope encryption with AWS KMS: `kmsKeyProvider` is a {@link KeyProvider} whose data keys
 * come from KMS `GenerateDataKey`. The key id written into each object's header is the wrapped
 * (KMS-encrypted) data key itself, so any reader with `kms:Decrypt` on the KMS key can unwrap it;
 * nothing else has to be stored. One data key is used for new objects for a while
 * (`dataKeyTtlMs`); unwrapped keys are cached, bounded in count and time. An object counts as
 * under the current key when its data key was made by the same KMS key (the `KeyId` that KMS
 * names in its answers), so `reencryptThread` rewrites only what an older KMS key wraps.
 *
 * `@aws-sdk/client-kms` is an optional peer dependency, loaded only when the provider is used.
 */

import { LRUCache } from "lru-cache";
import type { KeyProvider } from "./crypto.js";
import { InvalidOptionError } from "./errors.js";

/** Prefix of the key ids of KMS data keys: `kms:` and the wrapped key in base64url. */
const KMS_KEY_ID_PREFIX = "kms:";

export interface KmsKeyProviderOptions {
  /** A `KMSClient` from `@aws-sdk/client-kms` (any object with its `send`). */
  client: { send(command: never): Promise<unknown> };
  /** The KMS key (id, ARN or alias) that wraps the data keys. */
  keyId: string;
  /** Encryption context bound into every data key (logged by CloudTrail). @default none */
  encryptionContext?: Record<string, string>;
  /** How long one data key encrypts new objects before a new one is generated. @default 300000 (5 minutes) */
  dataKeyTtlMs?: number;
  /** Unwrapped data keys kept in memory. @default 100 */
  cacheSize?: number;
  /** How long an unwrapped data key stays in memory. @default 900000 (15 minutes) */
  cacheTtlMs?: number;
}

type KmsModule = typeof import("@aws-sdk/client-kms");

let kmsModule: Promise<KmsModule> | undefined;
function loadKms(): Promise<KmsModule> {
  kmsModule ??= import("@aws-sdk/client-kms").catch((e: unknown) => {
    kmsModule = undefined;
    throw new InvalidOptionError(
      "kmsKeyProvider needs the package @aws-sdk/client-kms: npm install @aws-sdk/client-kms",
      {
        cause: e,
      },
    );
  });
  return kmsModule;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new InvalidOptionError(`kmsKeyProvider: \`${name}\` must be a whole number of at least 1; got ${value}`);
  return v;
}

/**
 * A key provider backed by AWS KMS, for option `encryption`.
 *
 * @example
 * ```ts
 * import { KMSClient } from "@aws-sdk/client-kms";
 * const checkpointer = new S3Checkpointer({
 *   bucket: "agent-state",
 *   encryption: kmsKeyProvider({ client: new KMSClient({}), keyId: "alias/agent-state" }),
 * });
 * ```
 */
export function kmsKeyProvider(options: KmsKeyProviderOptions): KeyProvider {
  if (options === null || typeof options !== "object" || typeof options.client?.send !== "function") {
    throw new InvalidOptionError("kmsKeyProvider: `client` must be a KMSClient");
  }
  if (typeof options.keyId !== "string" || options.keyId === "")
    throw new InvalidOptionError("kmsKeyProvider: `keyId` must name a KMS key");
  const dataKeyTtlMs = positive("dataKeyTtlMs", options.dataKeyTtlMs, 300_000);
  /** Unwrapped data keys by key id, with the ARN of the KMS key that wraps each (when KMS names it). */
  const cache = new LRUCache<string, { key: Uint8Array; kmsKey: string | undefined }>({
    max: positive("cacheSize", options.cacheSize, 100),
    ttl: positive("cacheTtlMs", options.cacheTtlMs, 900_000),
  });
  const { client, keyId, encryptionContext } = options;
  const send = (command: unknown) =>
    client.send(command as never) as Promise<{ Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array; KeyId?: string }>;
  let current: { id: string; until: number; kmsKey: string | undefined } | undefined;
  let generating: Promise<string> | undefined;

  const generate = async (): Promise<string> => {
    const { GenerateDataKeyCommand } = await loadKms();
    const res = await send(
      new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: "AES_256", EncryptionContext: encryptionContext }),
    );
    if (!res.Plaintext || !res.CiphertextBlob) throw new Error("KMS GenerateDataKey returned no key");
    const id = KMS_KEY_ID_PREFIX + Buffer.from(res.CiphertextBlob).toString("base64url");
    cache.set(id, { key: Uint8Array.from(res.Plaintext), kmsKey: res.KeyId });
    current = { id, until: Date.now() + dataKeyTtlMs, kmsKey: res.KeyId };
    return id;
  };

  const currentKeyId = (): string | Promise<string> => {
    if (current && Date.now() < current.until && cache.has(current.id)) return current.id;
    generating ??= generate().finally(() => (generating = undefined));
    return generating;
  };

  const unwrap = async (id: string) => {
    const cached = cache.get(id);
    if (cached) return cached;
    if (!id.startsWith(KMS_KEY_ID_PREFIX)) throw new Error("not a KMS data key id");
    const { DecryptCommand } = await loadKms();
    // no KeyId: the wrapped key names the KMS key that wraps it, and pinning the configured one
    // would make every object under a previous KMS key unreadable once `keyId` changes (the
    // caller's kms:Decrypt permissions decide which KMS keys may be used)
    const res = await send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(id.slice(KMS_KEY_ID_PREFIX.length), "base64url"),
        EncryptionContext: encryptionContext,
      }),
    );
    if (!res.Plaintext) throw new Error("KMS Decrypt returned no key");
    const entry = { key: Uint8Array.from(res.Plaintext), kmsKey: res.KeyId };
    cache.set(id, entry);
    return entry;
  };

  return {
    currentKeyId,
    async getKey(id: string) {
      return (await unwrap(id)).key;
    },
    async isCurrent(id: string) {
      const now = await currentKeyId();
      if (id === now) return true;
      const kmsKey = current?.kmsKey;
      // a KMS that names no key in its answers: only the data key in use counts as current
      return kmsKey !== undefined && id.startsWith(KMS_KEY_ID_PREFIX) && (await unwrap(id)).kmsKey === kmsKey;
    },
  };
}
