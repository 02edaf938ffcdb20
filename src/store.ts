/**
 * The S3 store: the only module that sends S3 commands or uses lib-storage. Every request runs
 * under the resilience policy; every HTTP attempt is counted (metrics); SDK errors become typed
 * errors. How immutable objects are written on top of it is immutability.ts.
 */

import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  type ObjectIdentifier,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  AccessDeniedError,
  BucketNotFoundError,
  CircuitOpenError,
  EndpointUnreachableError,
  S3CheckpointerError,
  S3RequestError,
} from "./errors.js";
import type { CheckpointerMetrics } from "./metrics.js";
import type { Logger } from "./logger.js";
import {
  createResiliencePolicy,
  isBrokenCircuitError,
  isRetryable,
  isTaskCancelledError,
  type ResiliencePolicy,
  type ResolvedResilience,
} from "./resilience.js";

/** S3 deletes at most 1,000 keys per DeleteObjects request. */
export const MAX_BULK_DELETE = 1000;
/** S3 lists at most 1,000 keys per page. */
export const MAX_LIST_KEYS = 1000;
/** User metadata key that carries the SHA-256 of an object's plaintext (HEAD returns it). */
const SHA256_METADATA = "lgs3-sha256";

export interface MultipartSettings {
  thresholdBytes: number;
  partSizeBytes: number;
  queueSize: number;
}

export interface StoreConfig {
  client: S3Client;
  bucket: string;
  metrics: CheckpointerMetrics;
  logger: Logger;
  multipart: MultipartSettings;
  resilience: ResolvedResilience;
}

export interface StoredObject {
  body: Buffer;
  versionId?: string;
}

export interface ListedObject {
  key: string;
  size: number;
}

export interface ListedPage {
  objects: ListedObject[];
  /** no page follows */
  last: boolean;
}

export interface ListedVersion {
  key: string;
  versionId: string;
  isDeleteMarker: boolean;
  isLatest: boolean;
  lastModified?: Date;
  size: number;
}

/**
 * Any S3 command. Commands differ in their input and output types, which `send` does not look
 * at; the middleware it adds is typed loosely for the same reason.
 */
interface AnyCommand {
  readonly constructor: { name: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- every command's stack differs in types only
  middlewareStack: { add(middleware: (next: any) => (args: any) => Promise<any>, options: object): void };
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $response?: { statusCode?: number };
}

function statusOf(e: unknown): number | undefined {
  const err = e as SdkError;
  return err?.$metadata?.httpStatusCode ?? err?.$response?.statusCode;
}

function isNotFound(e: unknown): boolean {
  const err = e as SdkError;
  return statusOf(e) === 404 || err?.name === "NoSuchKey" || err?.name === "NotFound";
}

function isPreconditionFailed(e: unknown): boolean {
  const err = e as SdkError;
  return statusOf(e) === 412 || err?.name === "PreconditionFailed";
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE"]);

function commandName(command: AnyCommand): string {
  return command.constructor.name.replace(/Command$/, "");
}

/** Log fields of an error: never its body, never credentials. */
export function describeError(e: unknown): Record<string, unknown> {
  if (!e || typeof e !== "object") return { error: String(e) };
  const err = e as SdkError & { requestId?: string };
  const out: Record<string, unknown> = { error: err.name ?? "Error" };
  const status = statusOf(e);
  if (status !== undefined) out.status = status;
  const requestId = err.$metadata?.requestId ?? err.requestId;
  if (requestId) out.requestId = requestId;
  const code = err.code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code) out.code = code;
  return out;
}

/** Maps an SDK error to a typed error; keeps typed errors as they are. */
export function toTypedError(e: unknown, what: string, bucket: string, key?: string): S3CheckpointerError {
  if (e instanceof S3CheckpointerError) return e;
  const err = e as SdkError;
  const status = statusOf(e);
  const requestId = err?.$metadata?.requestId;
  const name = err?.name ?? err?.Code ?? "Error";
  const details = { cause: e, requestId, key };
  if (name === "NoSuchBucket" || (status === 404 && what === "HeadBucket")) {
    return new BucketNotFoundError(`bucket "${bucket}" does not exist; create it or call setup({ createBucket: true })`, details);
  }
  if (status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") {
    return new AccessDeniedError(
      `S3 refused ${what} on bucket "${bucket}" (${name}); check the credentials and that they may read and write the bucket`,
      details,
    );
  }
  const code = err?.code ?? (err as { cause?: { code?: string } })?.cause?.code;
  if (status === undefined && ((code && NETWORK_CODES.has(code)) || name === "TimeoutError" || name === "AbortError")) {
    return new EndpointUnreachableError(`could not reach S3 for ${what} (${code ?? name}); check the endpoint and the network`, details);
  }
  return new S3RequestError(`${what} failed${status ? ` with HTTP ${status}` : ""} (${name})`, { ...details, status, s3Code: name });
}

export class S3Store {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly metrics: CheckpointerMetrics;
  private readonly logger: Logger;
  private readonly multipart: MultipartSettings;
  private inFlight = 0;
  /** The client handed to lib-storage: the caller's client, with our `send` (policy, counting) in front. */
  private readonly uploadClient: S3Client;
  /** Every request runs under this one policy: retries, timeouts, circuit breaker. */
  readonly policy: ResiliencePolicy;

  constructor(config: StoreConfig) {
    this.client = config.client;
    this.bucket = config.bucket;
    this.metrics = config.metrics;
    this.logger = config.logger;
    this.multipart = config.multipart;
    this.policy = createResiliencePolicy(config.resilience, {
      onCircuitChange: (state, cause) => {
        this.metrics.circuit(state);
        const fields = { bucket: this.bucket, state, ...(cause ? describeError(cause) : {}) };
        if (state === "open") this.logger.error(fields, "S3 circuit breaker opened: calls fail fast");
        else this.logger.warn(fields, `S3 circuit breaker ${state}`);
      },
    });
    this.uploadClient = Object.create(this.client, {
      send: { value: (command: AnyCommand, options?: { abortSignal?: AbortSignal }) => this.send(command, options) },
    }) as S3Client;
  }

  /**
   * Runs one S3 request under the policy: `fn` is one attempt and gets the attempt's abort
   * signal. Retries, breaker changes and final failures are logged (with the request id) and
   * counted; an open circuit is a {@link CircuitOpenError}.
   */
  async request<T>(command: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let attempt = 0;
    let last: unknown;
    try {
      return await this.policy.execute(async (signal) => {
        attempt += 1;
        if (attempt > 1) {
          this.metrics.retry(command);
          this.logger.warn({ command, attempt, ...describeError(last) }, "retrying S3 request");
        }
        try {
          return await fn(signal);
        } catch (e) {
          last = e;
          throw e;
        }
      });
    } catch (e) {
      if (isBrokenCircuitError(e)) {
        throw new CircuitOpenError(`S3 failed repeatedly and the circuit breaker is open; ${command} was not sent, retry later`, { cause: last ?? e });
      }
      const error = isTaskCancelledError(e)
        ? new S3RequestError(`${command} timed out after ${attempt} attempt(s)`, { cause: last ?? e, s3Code: "Timeout" })
        : e;
      // a 404 or 412 is an answer, not a failure of S3
      if (isRetryable(last ?? e) || isTaskCancelledError(e)) this.logger.error({ command, attempts: attempt, ...describeError(last ?? e) }, "S3 request failed");
      throw error;
    }
  }

  /**
   * Sends a command under the policy (each attempt sends it again). A caller's own signal
   * (lib-storage's, when it aborts an upload) aborts the attempt too.
   */
  async send<Output>(command: AnyCommand, options?: { abortSignal?: AbortSignal }): Promise<Output> {
    return this.request(commandName(command), (signal) =>
      this.sendOnce<Output>(command, { abortSignal: options?.abortSignal ? AbortSignal.any([signal, options.abortSignal]) : signal }),
    );
  }

  /**
   * One HTTP attempt. The counting middleware is added to the command, not to the client: a
   * caller's client is used as given, and its own middleware sees every request.
   */
  private async sendOnce<Output>(command: AnyCommand, options: { abortSignal?: AbortSignal }): Promise<Output> {
    const name = commandName(command);
    command.middlewareStack.add(
      (next) => async (args) => {
        // the deserialize step runs once per HTTP attempt (also inside a client's own retries)
        if (this.inFlight++ === 0) this.metrics.roundTrip();
        try {
          const result = await next(args);
          this.metrics.s3Request(name, (result.response as { statusCode?: number }).statusCode ?? "unknown");
          return result;
        } catch (e) {
          this.metrics.s3Request(name, statusOf(e) ?? "network_error");
          throw e;
        } finally {
          this.inFlight -= 1;
        }
      },
      { step: "deserialize", name: "langgraphS3RequestCounter", override: true },
    );
    return (await this.client.send(command as never, options)) as Output;
  }

  // ---- objects ------------------------------------------------------------------------------

  /**
   * GetObject; `undefined` when the key (or version) does not exist.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
   */
  async get(key: string, versionId?: string): Promise<StoredObject | undefined> {
    try {
      // the body is read inside the attempt: a connection reset mid-response is retried too
      return await this.request("GetObject", async (signal) => {
        const res = await this.sendOnce<{
          Body?: { transformToByteArray(): Promise<Uint8Array> };
          VersionId?: string;
          ETag?: string;
        }>(new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
        const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
        this.metrics.bytesRead(bytes.byteLength);
        return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), versionId: res.VersionId };
      });
    } catch (e) {
      // a version id that names a delete marker answers 405; a malformed one 400 on some stores
      if (isNotFound(e) || (versionId !== undefined && (statusOf(e) === 405 || statusOf(e) === 400))) return undefined;
      throw toTypedError(e, "GetObject", this.bucket, key);
    }
  }

  /** HeadObject: the SHA-256 metadata of an object, `undefined` when it does not exist. */
  async headSha256(key: string, versionId?: string): Promise<string | undefined | null> {
    try {
      const res = await this.send<{ Metadata?: Record<string, string> }>(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      );
      return res.Metadata?.[SHA256_METADATA] ?? null;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw toTypedError(e, "HeadObject", this.bucket, key);
    }
  }

  /**
   * PutObject, or a lib-storage multipart Upload above the threshold. With `ifNoneMatch`
   * the write is a conditional create and a 412 answers `{ exists: true }`.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
   */
  async put(
    key: string,
    body: Buffer,
    options: { sha256: string; ifNoneMatch?: boolean },
  ): Promise<{ exists: true } | { exists: false; versionId?: string }> {
    const params = {
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: "application/octet-stream",
      Metadata: { [SHA256_METADATA]: options.sha256 },
      ...(options.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
    };
    try {
      let versionId: string | undefined;
      if (body.length >= this.multipart.thresholdBytes) {
        const upload = new Upload({
          client: this.uploadClient,
          params,
          partSize: this.multipart.partSizeBytes,
          queueSize: this.multipart.queueSize,
          // on failure lib-storage aborts the multipart upload: no orphaned parts are left
          leavePartsOnError: false,
        });
        const res = await upload.done();
        versionId = (res as { VersionId?: string }).VersionId;
      } else {
        const res = await this.send<{ VersionId?: string }>(new PutObjectCommand({ ...params, ContentLength: body.length }));
        versionId = res.VersionId;
      }
      this.metrics.bytesWritten(body.length);
      return { exists: false, versionId };
    } catch (e) {
      if (options.ifNoneMatch && isPreconditionFailed(e)) return { exists: true };
      throw toTypedError(e, body.length >= this.multipart.thresholdBytes ? "multipart upload" : "PutObject", this.bucket, key);
    }
  }

  // ---- listings -----------------------------------------------------------------------------

  /**
   * ListObjectsV2, page by page; `last` marks the final page, so a caller need not ask for one
   * more to find out.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
   */
  async *list(prefix: string, options: { startAfter?: string; pageSize?: number } = {}): AsyncGenerator<ListedPage> {
    let token: string | undefined;
    let pageSize = options.pageSize ?? MAX_LIST_KEYS;
    for (;;) {
      let res: { Contents?: { Key?: string; Size?: number }[]; IsTruncated?: boolean; NextContinuationToken?: string };
      try {
        res = await this.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            StartAfter: token ? undefined : options.startAfter,
            ContinuationToken: token,
            MaxKeys: pageSize,
          }),
        );
      } catch (e) {
        throw toTypedError(e, "ListObjectsV2", this.bucket, prefix);
      }
      // guard against a store that says "truncated" with a token that does not advance
      const last = !res.IsTruncated || !res.NextContinuationToken || res.NextContinuationToken === token;
      yield { objects: (res.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0 })), last };
      if (last) return;
      token = res.NextContinuationToken;
      pageSize = MAX_LIST_KEYS;
    }
  }

  /**
   * ListObjectVersions, page by page: versions and delete markers, newest first per key.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
   */
  async *listVersions(prefix: string): AsyncGenerator<ListedVersion[]> {
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      let res: {
        Versions?: { Key?: string; VersionId?: string; IsLatest?: boolean; LastModified?: Date; Size?: number }[];
        DeleteMarkers?: { Key?: string; VersionId?: string; IsLatest?: boolean; LastModified?: Date }[];
        IsTruncated?: boolean;
        NextKeyMarker?: string;
        NextVersionIdMarker?: string;
      };
      try {
        res = await this.send(
          new ListObjectVersionsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionMarker, MaxKeys: MAX_LIST_KEYS }),
        );
      } catch (e) {
        throw toTypedError(e, "ListObjectVersions", this.bucket, prefix);
      }
      const page: ListedVersion[] = [
        ...(res.Versions ?? []).map((v) => ({
          key: v.Key!,
          versionId: v.VersionId ?? "null",
          isDeleteMarker: false,
          isLatest: v.IsLatest ?? false,
          lastModified: v.LastModified,
          size: v.Size ?? 0,
        })),
        ...(res.DeleteMarkers ?? []).map((m) => ({
          key: m.Key!,
          versionId: m.VersionId ?? "null",
          isDeleteMarker: true,
          isLatest: m.IsLatest ?? false,
          lastModified: m.LastModified,
          size: 0,
        })),
      ];
      yield page;
      if (!res.IsTruncated) return;
      if (res.NextKeyMarker === keyMarker && res.NextVersionIdMarker === versionMarker) return;
      keyMarker = res.NextKeyMarker;
      versionMarker = res.NextVersionIdMarker;
    }
  }

  /** The versions (not delete markers) of exactly one key, newest first. */
  async versionsOf(key: string): Promise<ListedVersion[]> {
    const all: ListedVersion[] = [];
    // the listing is by prefix: keys that merely start with `key` are left out
    for await (const page of this.listVersions(key)) all.push(...page.filter((v) => v.key === key && !v.isDeleteMarker));
    return all;
  }

  // ---- deletes ------------------------------------------------------------------------------

  /**
   * DeleteObjects in batches of {@link MAX_BULK_DELETE}; returns the entries S3 could not delete.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html
   */
  async deleteMany(objects: ObjectIdentifier[]): Promise<{ key: string; versionId?: string; code?: string }[]> {
    const failed: { key: string; versionId?: string; code?: string }[] = [];
    for (let i = 0; i < objects.length; i += MAX_BULK_DELETE) {
      const batch = objects.slice(i, i + MAX_BULK_DELETE);
      let res: { Errors?: { Key?: string; VersionId?: string; Code?: string }[] };
      try {
        res = await this.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }));
      } catch (e) {
        throw toTypedError(e, "DeleteObjects", this.bucket);
      }
      for (const err of res.Errors ?? []) failed.push({ key: err.Key ?? "", versionId: err.VersionId, code: err.Code });
    }
    return failed;
  }

  async deleteVersion(key: string, versionId: string): Promise<void> {
    try {
      await this.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }));
    } catch (e) {
      if (!isNotFound(e)) throw toTypedError(e, "DeleteObject", this.bucket, key);
    }
  }

  /**
   * Server-side copy (no download) of the current object.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html
   */
  async copy(sourceKey: string, targetKey: string): Promise<void> {
    // the copy source is "bucket/key", URL-encoded except for its slashes
    const source = `${this.bucket}/${encodeURIComponent(sourceKey).replace(/%2F/g, "/")}`;
    try {
      await this.send(new CopyObjectCommand({ Bucket: this.bucket, Key: targetKey, CopySource: source, MetadataDirective: "COPY" }));
    } catch (e) {
      throw toTypedError(e, "CopyObject", this.bucket, sourceKey);
    }
  }

  // ---- bucket -------------------------------------------------------------------------------

  /**
   * The bucket's lifecycle rules; `[]` when it has none.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLifecycleConfiguration.html
   */
  async getLifecycleRules(): Promise<LifecycleRule[]> {
    try {
      const res = await this.send<{ Rules?: LifecycleRule[] }>(new GetBucketLifecycleConfigurationCommand({ Bucket: this.bucket }));
      return res.Rules ?? [];
    } catch (e) {
      const name = (e as SdkError).name;
      if (name === "NoSuchLifecycleConfiguration" || statusOf(e) === 404) return [];
      throw toTypedError(e, "GetBucketLifecycleConfiguration", this.bucket);
    }
  }

  /** Replaces the bucket's lifecycle configuration with `rules` (callers merge first). */
  async putLifecycleRules(rules: LifecycleRule[]): Promise<void> {
    try {
      await this.send(new PutBucketLifecycleConfigurationCommand({ Bucket: this.bucket, LifecycleConfiguration: { Rules: rules } }));
    } catch (e) {
      throw toTypedError(e, "PutBucketLifecycleConfiguration", this.bucket);
    }
  }

  /** HeadBucket, creating the bucket when asked. Typed errors for missing bucket, 403, network. */
  async ensureBucket(create: boolean): Promise<void> {
    try {
      await this.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (e) {
      const typed = toTypedError(e, "HeadBucket", this.bucket);
      if (!(typed instanceof BucketNotFoundError) || !create) throw typed;
    }
    try {
      await this.send(new CreateBucketCommand({ Bucket: this.bucket }));
      this.logger.info({ bucket: this.bucket }, "created bucket");
    } catch (e) {
      const name = (e as SdkError).name;
      // another process created it in between: that is what we wanted
      if (name !== "BucketAlreadyOwnedByYou" && name !== "BucketAlreadyExists") throw toTypedError(e, "CreateBucket", this.bucket);
    }
  }

  async getVersioning(): Promise<"Enabled" | "Suspended" | "Disabled"> {
    try {
      const res = await this.send<{ Status?: string }>(new GetBucketVersioningCommand({ Bucket: this.bucket }));
      return res.Status === "Enabled" ? "Enabled" : res.Status === "Suspended" ? "Suspended" : "Disabled";
    } catch (e) {
      const typed = toTypedError(e, "GetBucketVersioning", this.bucket);
      // some S3-compatible stores have no versioning API at all
      if (typed instanceof S3RequestError && (typed.status === 501 || typed.status === 400)) return "Disabled";
      throw typed;
    }
  }

  async enableVersioning(): Promise<void> {
    try {
      await this.send(new PutBucketVersioningCommand({ Bucket: this.bucket, VersioningConfiguration: { Status: "Enabled" } }));
    } catch (e) {
      throw toTypedError(e, "PutBucketVersioning", this.bucket);
    }
  }
}
