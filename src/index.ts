/**
 * langgraph-checkpoint-s3: durable LangGraph.js checkpoints in Amazon S3 and S3-compatible stores.
 *
 * @example
 * ```ts
 * import { S3Checkpointer } from "langgraph-checkpoint-s3";
 * const checkpointer = new S3Checkpointer({ bucket: "agent-state" });
 * await checkpointer.setup();
 * ```
 */
export { S3Checkpointer, type RestoreCheckpointOptions } from "./checkpointer.js";
export type { SetupOptions, LifecycleOptions } from "./bucket.js";
export type { CheckpointVersion, ListVersionsOptions, PurgeReport } from "./versions.js";
export { DEFAULTS, createClient, type S3CheckpointerOptions, type S3CheckpointerTunables } from "./options.js";
export type { CompressionCodec, CompressionOptions } from "./codec.js";
export { generateKey, type EncryptionOptions, type KeyProvider, type Keyring } from "./crypto.js";
export { kmsKeyProvider, type KmsKeyProviderOptions } from "./kms.js";
export type { ReencryptReport } from "./reencrypt.js";
export type { ListThreadsOptions, ThreadInfo } from "./threads.js";
export type { VerifyOptions, VerifyReport } from "./verify.js";
export type { PruneOptions, PruneReport, SweepOptions, SweepReport } from "./retention.js";
export { migrate, type MigrateOptions, type MigrateProgress, type MigrateReport } from "./migrate.js";
export { MAX_SHARE_EXPIRES_IN, type Share, type ShareInfo, type ShareOptions } from "./share.js";
export { importShared, readShared, type ImportSharedOptions, type ReadSharedOptions } from "./receive.js";
export type { ServerSideEncryption } from "./options.js";
export { zstdImplementation } from "./zstd.js";
export type { BucketCapabilities } from "./immutability.js";
export type { ResilienceOptions, BreakerOptions } from "./resilience.js";
export { METRIC, type MetricsOptions, type CheckpointerMetrics } from "./metrics.js";
export { silentLogger, type Logger } from "./logger.js";
export {
  S3CheckpointerError,
  isS3CheckpointerError,
  InvalidArgumentError,
  InvalidOptionError,
  BucketNotFoundError,
  AccessDeniedError,
  EndpointUnreachableError,
  CheckpointNotFoundError,
  CheckpointConflictError,
  CheckpointCorruptedError,
  DecryptionFailedError,
  VersioningUnavailableError,
  CircuitOpenError,
  PurgeIncompleteError,
  ShareUnavailableError,
  S3RequestError,
  CheckpointNotFound,
  CheckpointConflict,
  CheckpointCorrupted,
  DecryptionFailed,
  VersioningUnavailable,
  CircuitOpen,
  type S3CheckpointerErrorCode,
  type S3CheckpointerErrorDetails,
} from "./errors.js";
