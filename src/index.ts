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
export { S3Checkpointer, type SetupOptions, type RestoreCheckpointOptions } from "./checkpointer.js";
export type { CheckpointVersion, ListVersionsOptions, PurgeReport, LifecycleOptions } from "./versions.js";
export {
  DEFAULTS,
  MIN_PART_SIZE_BYTES,
  createClient,
  type S3CheckpointerOptions,
  type S3CheckpointerTunables,
} from "./options.js";
export type { CompressionCodec, CompressionOptions } from "./codec.js";
export { zstdImplementation } from "./codec.js";
export type { BucketCapabilities } from "./immutability.js";
export { isRetryable, type ResilienceOptions, type BreakerOptions } from "./resilience.js";
export { METRIC, type MetricsOptions, type CheckpointerMetrics } from "./metrics.js";
export { silentLogger, type Logger } from "./logger.js";
export { KeyLayout, encodeComponent, decodeComponent } from "./layout.js";
export * from "./errors.js";
