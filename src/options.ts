/**
 * Options: the public types, their defaults, and one `resolveOptions` that validates them once,
 * eagerly, naming the option in every message.
 */

import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import type { SerializerProtocol } from "@langchain/langgraph-checkpoint";
import { createCipher, type EncryptionOptions } from "./crypto.js";
import {
  DEFAULT_MAX_OBJECT_BYTES,
  MAX_ZSTD_LEVEL,
  type EnvelopeCipher,
  type CompressionCodec,
  type CompressionOptions,
  type ResolvedCompression,
} from "./codec.js";
import { InvalidOptionError } from "./errors.js";
import { normalizePrefix } from "./layout.js";
import { silentLogger, type Logger } from "./logger.js";
import type { MetricsOptions } from "./metrics.js";
import { MAX_TIMER_MS, type ResilienceOptions, type ResolvedResilience } from "./resilience.js";

/** lib-storage's smallest part (S3 rejects smaller parts except the last). */
export const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;

/** Every default of the options, in one place (the JSDoc `@default`s below repeat them). */
export const DEFAULTS = Object.freeze({
  prefix: "",
  compression: Object.freeze({ codec: "zstd" as CompressionCodec, level: 3 }),
  resilience: Object.freeze({
    maxAttempts: 4,
    initialDelayMs: 100,
    maxDelayMs: 5000,
    attemptTimeoutMs: 15_000,
    operationTimeoutMs: 60_000,
    breaker: Object.freeze({ consecutiveFailures: 5, halfOpenAfterMs: 10_000 }),
  }),
  // measured (README, Speed): an agent whose messages outgrow the threshold pays a second
  // sequential round trip on every superstep (its value object before the record naming it)
  inlineThresholdBytes: 256 * 1024,
  multipartThresholdBytes: 16 * 1024 * 1024,
  multipartPartSizeBytes: 8 * 1024 * 1024,
  multipartQueueSize: 4,
  readConcurrency: 16,
  cacheMaxBytes: 64 * 1024 * 1024,
  slowOperationMs: 5000,
  maxObjectBytes: DEFAULT_MAX_OBJECT_BYTES,
});

/** Tunables: every one has a default. */
export interface S3CheckpointerTunables {
  /**
   * Key prefix inside the bucket; a trailing `/` is added.
   * @default ""
   */
  prefix: string;
  /** Serializer for checkpoints, metadata and channel values. @default LangGraph's JsonPlusSerializer */
  serde: SerializerProtocol;
  /**
   * Compression of every object body: `{ codec, level }`, or just the codec's name (`"none"`).
   * @default { codec: "zstd", level: 3 }
   */
  compression: CompressionOptions | CompressionCodec;
  /**
   * Largest plaintext of one stored object (a checkpoint record, one task's writes, or one
   * channel value stored on its own). A write above it fails with `InvalidArgumentError` before
   * anything is written; a stored object above it is refused with `CheckpointCorruptedError`
   * before it is decoded. It bounds what a damaged or hostile object can cost a reader:
   * decoding holds about twice this much at its peak, per concurrent read (`readConcurrency`).
   * Use the same value on every writer and reader.
   * @default 268435456 (256 MiB)
   */
  maxObjectBytes: number;
  /**
   * A changed channel whose serialized value is at most this many bytes is stored inside the
   * checkpoint record (one request per `put`); larger values get an object of their own, keyed
   * by (channel, version), and later checkpoints refer to it instead of rewriting it: written
   * before the record that names it, one more sequential round trip for that `put`.
   * @default 262144 (256 KiB)
   */
  inlineThresholdBytes: number;
  /** Bodies of this many bytes or more are sent as multipart uploads (lib-storage). @default 16 MiB */
  multipartThresholdBytes: number;
  /** Part size of multipart uploads; at least 5 MiB. @default 8 MiB */
  multipartPartSizeBytes: number;
  /** Parts of one multipart upload sent in parallel. @default 4 */
  multipartQueueSize: number;
  /** S3 requests one call sends in parallel at most (reads of `list`, history walks). @default 16 */
  readConcurrency: number;
  /**
   * Bytes of immutable objects (records, channel values) kept in an in-memory LRU cache, so a
   * repeated read costs no request. 0 turns the cache off.
   * @default 64 MiB
   */
  cacheMaxBytes: number;
  /** Prometheus metrics through prom-client, or `false` for none. @default a private registry */
  metrics: MetricsOptions | false;
  /** Structured logger with pino's interface. @default silent */
  logger: Logger;
  /**
   * Use of S3 object versions. `"auto"`: version features work where the bucket is versioned
   * and throw `VersioningUnavailableError` where it is not; `"required"`: `setup()` refuses an
   * unversioned bucket; `"off"`: versions are never used (no `s3_version_id` on tuples).
   * @default "auto"
   */
  versioning: "auto" | "required" | "off";
  /**
   * What `deleteThread` does: `"soft"` leaves delete markers on a versioned bucket (undo with
   * `restoreThread`); `"purge"` removes every version (`purgeThread`).
   * @default "soft"
   */
  deleteMode: "soft" | "purge";
  /**
   * Retry, timeout and circuit-breaker settings of the policy every S3 request runs under.
   * @default { maxAttempts: 4, initialDelayMs: 100, maxDelayMs: 5000, attemptTimeoutMs: 15000,
   *   operationTimeoutMs: 60000, breaker: { consecutiveFailures: 5, halfOpenAfterMs: 10000 } }
   */
  resilience: ResilienceOptions;
  /** Operations slower than this are logged as a warning. @default 5000 */
  slowOperationMs: number;
}

/**
 * Options of {@link S3Checkpointer}: the bucket, how to reach S3 (`client` or `clientConfig`),
 * and optional tunables.
 */
export type S3CheckpointerOptions = {
  /** The bucket that holds the checkpoints. */
  bucket: string;
  /**
   * An existing S3 client, used as given: middleware you added sees every request. Give
   * `client` or `clientConfig`, not both.
   */
  client?: S3Client;
  /**
   * Configuration for a client this checkpointer creates (and destroys in `close()`). Its own
   * retries are off (`maxAttempts: 1`): the checkpointer's resilience policy retries. With a
   * custom `endpoint`, path-style addressing is on and checksums are sent only where S3
   * requires them, which S3-compatible stores need; all can be overridden here.
   * @default the AWS SDK's defaults (region, credentials chain, `AWS_ENDPOINT_URL_S3`)
   */
  clientConfig?: S3ClientConfig;
  /**
   * Client-side encryption (AES-256-GCM): a keyring `{ keys: { [keyId]: key }, currentKeyId }`
   * (keys of 32 bytes, or base64 of 32 bytes) or a key provider `{ currentKeyId(), getKey(id) }`
   * such as `kmsKeyProvider(...)`; `required: true` refuses objects that are not encrypted.
   * @default none: objects are stored compressed, not encrypted
   */
  encryption?: EncryptionOptions;
  /**
   * Server-side encryption requested on every write (puts, multipart uploads, copies):
   * `{ type: "AES256" }` (SSE-S3) or `{ type: "aws:kms", keyId?, bucketKey? }` (SSE-KMS).
   * @default none: the bucket's default encryption applies
   */
  serverSideEncryption?: ServerSideEncryption;
} & Partial<S3CheckpointerTunables>;

/** Option `serverSideEncryption`. */
export type ServerSideEncryption = { type: "AES256" } | { type: "aws:kms"; keyId?: string; bucketKey?: boolean };

/** The request parameters of {@link ServerSideEncryption}. */
export interface SseParams {
  ServerSideEncryption: "AES256" | "aws:kms";
  SSEKMSKeyId?: string;
  BucketKeyEnabled?: boolean;
}

export interface ResolvedOptions {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  /** True when the checkpointer created the client and so must destroy it. */
  readonly ownsClient: boolean;
  readonly serde: SerializerProtocol | undefined;
  readonly compression: ResolvedCompression;
  readonly inlineThresholdBytes: number;
  readonly multipartThresholdBytes: number;
  readonly multipartPartSizeBytes: number;
  readonly multipartQueueSize: number;
  readonly readConcurrency: number;
  readonly cacheMaxBytes: number;
  readonly metrics: MetricsOptions | false | undefined;
  readonly logger: Logger;
  readonly versioning: "auto" | "required" | "off";
  readonly deleteMode: "soft" | "purge";
  readonly resilience: ResolvedResilience;
  readonly slowOperationMs: number;
  readonly maxObjectBytes: number;
  /** the cipher of option `encryption`; it keeps the keys out of `util.inspect` and JSON */
  readonly cipher: EnvelopeCipher | undefined;
  readonly sse: SseParams | undefined;
}

/** The one integer check of every numeric option: a safe integer from `min` to `max`. */
export function wholeNumber(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new InvalidOptionError(`option \`${name}\` must be an integer ${range}; got ${String(value)}`);
  }
  return v;
}

/** `metrics`: `false`, or options whose registry (when given) is a prom-client Registry. */
function resolveMetricsOption(metrics: MetricsOptions | false | undefined): MetricsOptions | false | undefined {
  if (metrics === undefined || metrics === false) return metrics;
  if (metrics === null || typeof metrics !== "object") {
    throw new InvalidOptionError("option `metrics` must be `false` or `{ registry?, prefix? }`");
  }
  withMethods(
    "metrics.registry",
    metrics.registry,
    ["getSingleMetric", "registerMetric", "metrics"],
    "a prom-client Registry",
  );
  if (
    metrics.prefix !== undefined &&
    (typeof metrics.prefix !== "string" || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(metrics.prefix))
  ) {
    throw new InvalidOptionError(
      `option \`metrics.prefix\` must be a Prometheus name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*); got ${JSON.stringify(metrics.prefix)}`,
    );
  }
  return metrics;
}

/** Throws unless `value` is an object whose `methods` are all functions. */
function withMethods<T>(name: string, value: T | undefined, methods: readonly string[], what: string): T | undefined {
  if (value === undefined) return undefined;
  const missing =
    value === null || typeof value !== "object"
      ? methods
      : methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== "function");
  if (missing.length > 0) {
    throw new InvalidOptionError(
      `option \`${name}\` must be ${what}; it lacks ${missing.map((m) => `\`${m}()\``).join(", ")}`,
    );
  }
  return value;
}

/**
 * What no store accepts in a bucket name: a `/` (it would become part of every key's path),
 * white space, control characters, more than 255 characters. The finer rules (length 3 to 63,
 * lower case) differ between S3 and the compatible stores, so the store itself judges those.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
 */
const BUCKET_NAME = /^[^\s/\\\p{Cc}?#%]{1,255}$/u;

function oneOf<T extends string>(name: string, value: T | undefined, allowed: readonly T[], fallback: T): T {
  const v = value ?? fallback;
  if (!allowed.includes(v))
    throw new InvalidOptionError(
      `option \`${name}\` must be one of ${allowed.map((a) => `"${a}"`).join(", ")}; got ${JSON.stringify(value)}`,
    );
  return v;
}

/** True when the configuration (or the environment) points the SDK at a custom endpoint. */
function hasCustomEndpoint(config: S3ClientConfig): boolean {
  return config.endpoint !== undefined || !!process.env.AWS_ENDPOINT_URL_S3 || !!process.env.AWS_ENDPOINT_URL;
}

/** Builds the client of `clientConfig`, with the settings S3-compatible endpoints need. */
export function createClient(config: S3ClientConfig = {}): S3Client {
  const custom = hasCustomEndpoint(config);
  return new S3Client({
    // the checkpointer's own policy retries; SDK retries on top would multiply the attempts
    maxAttempts: 1,
    // the SDK sends `Expect: 100-continue` with bodies of 2 MiB or more (large channel values,
    // multipart parts), and for each such request opens a new connection without keep-alive
    // and waits for the server's 100 before sending: two round trips more per request. Early
    // refusal of a body is worth little here (a write is refused for a bad key or credentials,
    // which the first small write shows). Measured at +20 ms per round trip: a 20 MB put 1,040
    // -> 714 ms, a 3 MB put 267 -> 208 ms.
    expectContinueHeader: false,
    ...(custom
      ? {
          forcePathStyle: true,
          // streamed uploads with default checksums use aws-chunked encoding, which several
          // S3-compatible stores (Ceph RGW among them) reject; the envelope has its own SHA-256
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
          region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
        }
      : {}),
    ...config,
  });
}

export function resolveOptions(options: S3CheckpointerOptions): ResolvedOptions {
  if (options === null || typeof options !== "object")
    throw new InvalidOptionError("options must be an object with at least `bucket`");
  if (typeof options.bucket !== "string" || options.bucket.trim() === "") {
    throw new InvalidOptionError("option `bucket` must be a non-empty string");
  }
  if (!BUCKET_NAME.test(options.bucket)) {
    throw new InvalidOptionError(
      `option \`bucket\` must be a bucket name (at most 255 characters, no \`/\`, \`\\\`, \`?\`, \`#\`, \`%\`, spaces or control characters); got ${JSON.stringify(options.bucket.slice(0, 80))}`,
    );
  }
  if (options.client !== undefined && options.clientConfig !== undefined) {
    throw new InvalidOptionError("give option `client` or option `clientConfig`, not both");
  }
  if (options.client !== undefined && typeof (options.client as { send?: unknown }).send !== "function") {
    throw new InvalidOptionError("option `client` must be an S3Client from @aws-sdk/client-s3");
  }
  const multipartPartSizeBytes = wholeNumber(
    "multipartPartSizeBytes",
    options.multipartPartSizeBytes,
    DEFAULTS.multipartPartSizeBytes,
    MIN_PART_SIZE_BYTES,
  );
  const resolved: ResolvedOptions = {
    bucket: options.bucket,
    prefix: normalizePrefix(options.prefix ?? DEFAULTS.prefix),
    client: options.client ?? createClient(options.clientConfig),
    ownsClient: options.client === undefined,
    serde: withMethods(
      "serde",
      options.serde,
      ["dumpsTyped", "loadsTyped"],
      "a SerializerProtocol (dumpsTyped, loadsTyped)",
    ),
    compression: resolveCompression(options.compression),
    inlineThresholdBytes: wholeNumber(
      "inlineThresholdBytes",
      options.inlineThresholdBytes,
      DEFAULTS.inlineThresholdBytes,
      0,
    ),
    multipartThresholdBytes: wholeNumber(
      "multipartThresholdBytes",
      options.multipartThresholdBytes,
      DEFAULTS.multipartThresholdBytes,
      1,
    ),
    multipartPartSizeBytes,
    multipartQueueSize: wholeNumber("multipartQueueSize", options.multipartQueueSize, DEFAULTS.multipartQueueSize, 1),
    readConcurrency: wholeNumber("readConcurrency", options.readConcurrency, DEFAULTS.readConcurrency, 1),
    cacheMaxBytes: wholeNumber("cacheMaxBytes", options.cacheMaxBytes, DEFAULTS.cacheMaxBytes, 0),
    metrics: resolveMetricsOption(options.metrics),
    logger:
      withMethods("logger", options.logger, ["debug", "info", "warn", "error"], "a logger with pino's methods") ??
      silentLogger,
    versioning: oneOf("versioning", options.versioning, ["auto", "required", "off"] as const, "auto"),
    deleteMode: oneOf("deleteMode", options.deleteMode, ["soft", "purge"] as const, "soft"),
    resilience: resolveResilience(options.resilience),
    slowOperationMs: wholeNumber("slowOperationMs", options.slowOperationMs, DEFAULTS.slowOperationMs, 0, MAX_TIMER_MS),
    maxObjectBytes: wholeNumber("maxObjectBytes", options.maxObjectBytes, DEFAULTS.maxObjectBytes, 1),
    cipher: undefined,
    sse: resolveSse(options.serverSideEncryption),
  };
  if (options.encryption !== undefined) {
    let warned = false;
    const cipher = createCipher(options.encryption, (key) => {
      if (warned) return;
      warned = true;
      resolved.logger.info({ key }, "reading objects that are not encrypted (written before encryption was turned on)");
    });
    return Object.freeze({ ...resolved, cipher });
  }
  return Object.freeze(resolved);
}

function resolveSse(option: ServerSideEncryption | undefined): SseParams | undefined {
  if (option === undefined) return undefined;
  if (option === null || typeof option !== "object" || (option.type !== "AES256" && option.type !== "aws:kms")) {
    throw new InvalidOptionError(
      'option `serverSideEncryption` must be `{ type: "AES256" }` or `{ type: "aws:kms", keyId?, bucketKey? }`',
    );
  }
  if (option.type === "AES256") return Object.freeze({ ServerSideEncryption: "AES256" });
  if (option.keyId !== undefined && (typeof option.keyId !== "string" || option.keyId === "")) {
    throw new InvalidOptionError("option `serverSideEncryption.keyId` must be a KMS key id, ARN or alias");
  }
  if (option.bucketKey !== undefined && typeof option.bucketKey !== "boolean") {
    throw new InvalidOptionError("option `serverSideEncryption.bucketKey` must be a boolean");
  }
  return Object.freeze({
    ServerSideEncryption: "aws:kms",
    ...(option.keyId !== undefined ? { SSEKMSKeyId: option.keyId } : {}),
    ...(option.bucketKey !== undefined ? { BucketKeyEnabled: option.bucketKey } : {}),
  });
}

export function resolveCompression(option: CompressionOptions | CompressionCodec | undefined): ResolvedCompression {
  const options = typeof option === "string" ? { codec: option } : option;
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new InvalidOptionError('option `compression` must be `{ codec, level }`, "zstd" or "none"');
  }
  const codec = oneOf("compression.codec", options?.codec, ["zstd", "none"] as const, DEFAULTS.compression.codec);
  const level = wholeNumber("compression.level", options?.level, DEFAULTS.compression.level, 1, MAX_ZSTD_LEVEL);
  return Object.freeze({ codec, level });
}

export function resolveResilience(options: ResilienceOptions | undefined): ResolvedResilience {
  if (options !== undefined && (options === null || typeof options !== "object")) {
    throw new InvalidOptionError("option `resilience` must be an object");
  }
  const d = DEFAULTS.resilience;
  // delays and timeouts become Node.js timers, which fire at once above 2^31 − 1 ms
  const n = (name: string, value: number | undefined, fallback: number, min: number) =>
    wholeNumber(`resilience.${name}`, value, fallback, min, MAX_TIMER_MS);
  const breaker = options?.breaker;
  return Object.freeze({
    maxAttempts: n("maxAttempts", options?.maxAttempts, d.maxAttempts, 1),
    initialDelayMs: n("initialDelayMs", options?.initialDelayMs, d.initialDelayMs, 0),
    maxDelayMs: n("maxDelayMs", options?.maxDelayMs, d.maxDelayMs, 0),
    attemptTimeoutMs: n("attemptTimeoutMs", options?.attemptTimeoutMs, d.attemptTimeoutMs, 1),
    operationTimeoutMs: n("operationTimeoutMs", options?.operationTimeoutMs, d.operationTimeoutMs, 1),
    breaker:
      breaker === false
        ? false
        : Object.freeze({
            consecutiveFailures: n(
              "breaker.consecutiveFailures",
              breaker?.consecutiveFailures,
              d.breaker.consecutiveFailures,
              1,
            ),
            halfOpenAfterMs: n("breaker.halfOpenAfterMs", breaker?.halfOpenAfterMs, d.breaker.halfOpenAfterMs, 1),
          }),
  });
}

/** Reads options from the environment, for {@link S3Checkpointer.fromEnv}. */
export function optionsFromEnv(overrides: Partial<S3CheckpointerOptions> = {}): S3CheckpointerOptions {
  const bucket = overrides.bucket ?? process.env.LANGGRAPH_S3_BUCKET;
  if (!bucket)
    throw new InvalidOptionError("set LANGGRAPH_S3_BUCKET (or pass `bucket`) to use S3Checkpointer.fromEnv()");
  return {
    ...overrides,
    bucket,
    prefix: overrides.prefix ?? process.env.LANGGRAPH_S3_PREFIX ?? DEFAULTS.prefix,
  };
}
