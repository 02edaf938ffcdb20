/**
 * Typed errors. Every error this package throws is an {@link S3CheckpointerError}: it has a
 * `name`, a stable string `code`, the original `cause`, and the S3 request id where S3 answered.
 * Messages start with the package name and say what to do; they never contain state values or
 * credentials.
 */

const BRAND = Symbol.for("langgraph-checkpoint-s3/error");
const PACKAGE = "langgraph-checkpoint-s3";

/** Stable codes, one per error class. */
export type S3CheckpointerErrorCode =
  | "INVALID_ARGUMENT"
  | "INVALID_OPTION"
  | "BUCKET_NOT_FOUND"
  | "ACCESS_DENIED"
  | "ENDPOINT_UNREACHABLE"
  | "CHECKPOINT_NOT_FOUND"
  | "CHECKPOINT_CONFLICT"
  | "CHECKPOINT_CORRUPTED"
  | "DECRYPTION_FAILED"
  | "VERSIONING_UNAVAILABLE"
  | "CIRCUIT_OPEN"
  | "S3_REQUEST_FAILED";

export interface S3CheckpointerErrorDetails {
  cause?: unknown;
  /** The `x-amz-request-id` of the S3 response that caused the error, when there was one. */
  requestId?: string;
  /** The S3 key the error is about, when there is one. */
  key?: string;
}

/**
 * Base class of every error of this package.
 *
 * @example
 * ```ts
 * try { await saver.setup(); } catch (e) {
 *   if (isS3CheckpointerError(e) && e.code === "BUCKET_NOT_FOUND") { ... }
 * }
 * ```
 */
export class S3CheckpointerError extends Error {
  readonly [BRAND] = true;
  readonly code: S3CheckpointerErrorCode;
  readonly requestId?: string;
  readonly key?: string;

  constructor(code: S3CheckpointerErrorCode, message: string, details: S3CheckpointerErrorDetails = {}) {
    super(`${PACKAGE}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.key !== undefined) this.key = details.key;
  }
}

/** True for every error thrown by this package, also across copies of the package. */
export function isS3CheckpointerError(error: unknown): error is S3CheckpointerError {
  return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/** A call got an argument it cannot use (a config without `thread_id`, a malformed id, …). */
export class InvalidArgumentError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("INVALID_ARGUMENT", message, details);
  }
}

/** A constructor or `setup()` option is invalid. The message names the option. */
export class InvalidOptionError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("INVALID_OPTION", message, details);
  }
}

/** The bucket does not exist (and `setup({ createBucket: true })` was not asked for). */
export class BucketNotFoundError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("BUCKET_NOT_FOUND", message, details);
  }
}

/** S3 refused the credentials or the permission (403, bad signature, unknown access key). */
export class AccessDeniedError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("ACCESS_DENIED", message, details);
  }
}

/** The endpoint could not be reached (DNS, refused connection, TLS, timeout). */
export class EndpointUnreachableError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("ENDPOINT_UNREACHABLE", message, details);
  }
}

/** A checkpoint asked for explicitly (by version id, for a restore) does not exist. */
export class CheckpointNotFoundError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("CHECKPOINT_NOT_FOUND", message, details);
  }
}

/** A checkpoint id (or a channel version) was written before with other content. */
export class CheckpointConflictError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("CHECKPOINT_CONFLICT", message, details);
  }
}

/** A stored object is not a valid envelope, or its checksum does not match. */
export class CheckpointCorruptedError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("CHECKPOINT_CORRUPTED", message, details);
  }
}

/** An encrypted object could not be decrypted (unknown key id, wrong key, tampered body). */
export class DecryptionFailedError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("DECRYPTION_FAILED", message, details);
  }
}

/** A version feature was used on a bucket without versioning. */
export class VersioningUnavailableError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("VERSIONING_UNAVAILABLE", message, details);
  }
}

/** The circuit breaker is open: S3 failed repeatedly and calls fail fast for a while. */
export class CircuitOpenError extends S3CheckpointerError {
  constructor(message: string, details?: S3CheckpointerErrorDetails) {
    super("CIRCUIT_OPEN", message, details);
  }
}

/** Any other failed S3 request; `status` and `s3Code` say what S3 answered. */
export class S3RequestError extends S3CheckpointerError {
  readonly status?: number;
  readonly s3Code?: string;
  constructor(message: string, details: S3CheckpointerErrorDetails & { status?: number; s3Code?: string } = {}) {
    super("S3_REQUEST_FAILED", message, details);
    if (details.status !== undefined) this.status = details.status;
    if (details.s3Code !== undefined) this.s3Code = details.s3Code;
  }
}

// Short aliases, as the design documents name them.
export {
  CheckpointNotFoundError as CheckpointNotFound,
  CheckpointConflictError as CheckpointConflict,
  CheckpointCorruptedError as CheckpointCorrupted,
  DecryptionFailedError as DecryptionFailed,
  VersioningUnavailableError as VersioningUnavailable,
  CircuitOpenError as CircuitOpen,
};
