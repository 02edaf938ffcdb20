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
  | "PURGE_INCOMPLETE"
  | "SHARE_UNAVAILABLE"
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

/**
 * `purgeThread` could not confirm the thread gone: S3 kept refusing some deletes, or a writer
 * kept adding objects. `report` says what was found, deleted and left; what is left is hidden
 * from readers, and running the purge again removes it.
 */
export class PurgeIncompleteError extends S3CheckpointerError {
  readonly report: {
    threadId: string;
    keys: number;
    versionsFound: number;
    versionsDeleted: number;
    failed: number;
    sharesRevoked: number;
  };
  constructor(message: string, report: PurgeIncompleteError["report"], details?: S3CheckpointerErrorDetails) {
    super("PURGE_INCOMPLETE", message, details);
    this.report = report;
  }
}

/**
 * A share URL did not give its bundle: it expired (`reason: "expired"`), was revoked or never
 * existed (`"not-found"`, HTTP 404), its signature or path was altered (`"denied"`, HTTP 403
 * before expiry), or the server failed (`"failed"`). `status` is the HTTP status, when one came.
 */
export class ShareUnavailableError extends S3CheckpointerError {
  readonly status?: number;
  readonly reason: "expired" | "not-found" | "denied" | "failed";
  constructor(
    message: string,
    reason: ShareUnavailableError["reason"],
    details: S3CheckpointerErrorDetails & { status?: number } = {},
  ) {
    super("SHARE_UNAVAILABLE", message, details);
    this.reason = reason;
    if (details.status !== undefined) this.status = details.status;
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

// ---- reading the AWS SDK's errors ----------------------------------------------------------
// The one place that knows the shapes of SDK errors: store.ts maps them to the classes above,
// resilience.ts decides from them what to retry.

/** The fields of an AWS SDK error (or a Node.js network error) that are read here. */
interface SdkErrorShape {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  cause?: unknown;
  requestId?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $response?: { statusCode?: number };
}

/** How deep a chain of `cause`s is searched for a network error code. */
const MAX_CAUSE_DEPTH = 4;

/** Node.js and undici codes of a connection that failed or broke (no HTTP answer). */
export const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ENOTFOUND",
  "ENOTCONN",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "UND_ERR_SOCKET",
]);

/** The HTTP status S3 answered with; `undefined` when no answer came. */
export function statusOf(error: unknown): number | undefined {
  const e = error as SdkErrorShape | undefined;
  return e?.$metadata?.httpStatusCode ?? e?.$response?.statusCode;
}

/** The S3 error code (`NoSuchKey`, `SlowDown`, …) or the error's name. */
export function sdkErrorName(error: unknown): string | undefined {
  const e = error as SdkErrorShape | undefined;
  return e?.name ?? e?.Code;
}

/** The network error code of an error or of one of its causes. */
export function networkCodeOf(error: unknown): string | undefined {
  for (let c: unknown = error, depth = 0; c && typeof c === "object" && depth < MAX_CAUSE_DEPTH; depth += 1) {
    const code = (c as SdkErrorShape).code;
    if (code && NETWORK_CODES.has(code)) return code;
    c = (c as SdkErrorShape).cause;
  }
  return undefined;
}

export function isNotFound(error: unknown): boolean {
  const name = sdkErrorName(error);
  return statusOf(error) === 404 || name === "NoSuchKey" || name === "NotFound";
}

export function isPreconditionFailed(error: unknown): boolean {
  return statusOf(error) === 412 || sdkErrorName(error) === "PreconditionFailed";
}

/**
 * A conditional write that lost to another write of the same key while it was in flight (AWS
 * answers 409 `ConditionalRequestConflict`): the object changed; read it again.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
export function isConditionalConflict(error: unknown): boolean {
  return statusOf(error) === 409 && sdkErrorName(error) === "ConditionalRequestConflict";
}

/** Log fields of an error: never its body, never credentials. */
export function describeError(error: unknown): Record<string, unknown> {
  if (!error || typeof error !== "object") return { error: String(error) };
  const e = error as SdkErrorShape;
  const out: Record<string, unknown> = { error: e.name ?? "Error" };
  const status = statusOf(error);
  if (status !== undefined) out.status = status;
  const requestId = e.$metadata?.requestId ?? e.requestId;
  if (requestId) out.requestId = requestId;
  const code = e.code ?? (e.cause as SdkErrorShape | undefined)?.code;
  if (code) out.code = code;
  return out;
}

/** The typed error of a failed S3 request `what` (a command name); typed errors pass through. */
export function fromSdkError(error: unknown, what: string, bucket: string, key?: string): S3CheckpointerError {
  if (error instanceof S3CheckpointerError) return error;
  const e = error as SdkErrorShape | undefined;
  const status = statusOf(error);
  const name = sdkErrorName(error) ?? "Error";
  const details = { cause: error, requestId: e?.$metadata?.requestId, key };
  if (name === "NoSuchBucket" || (status === 404 && what === "HeadBucket")) {
    return new BucketNotFoundError(
      `bucket "${bucket}" does not exist; create it or call setup({ createBucket: true })`,
      details,
    );
  }
  if (status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") {
    return new AccessDeniedError(
      `S3 refused ${what} on bucket "${bucket}" (${name}); check the credentials and that they may read and write the bucket`,
      details,
    );
  }
  const code = networkCodeOf(error);
  if (status === undefined && (code !== undefined || name === "TimeoutError" || name === "AbortError")) {
    return new EndpointUnreachableError(
      `could not reach S3 for ${what} (${code ?? name}); check the endpoint and the network`,
      details,
    );
  }
  return new S3RequestError(`${what} failed${status ? ` with HTTP ${status}` : ""} (${name})`, {
    ...details,
    status,
    s3Code: name,
  });
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
