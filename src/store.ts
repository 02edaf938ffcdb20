/**
 * The S3 store: the only module that sends S3 commands or uses lib-storage. Every request runs
 * under the resilience policy; every HTTP attempt is counted (metrics); SDK errors become typed
 * errors. How immutable objects are written on top of it is immutability.ts.
 */

import {
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
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import {
  BucketNotFoundError,
  CheckpointCorruptedError,
  CircuitOpenError,
  S3RequestError,
  describeError,
  fromSdkError,
  isConditionalConflict,
  isNotFound,
  isPreconditionFailed,
  sdkErrorName,
  statusOf,
} from "./errors.js";
import { Readable } from "node:stream";
import type { StreamedBody } from "./codec.js";
import type { CheckpointerMetrics } from "./metrics.js";
import type { SseParams } from "./options.js";
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
/** Bodies below this are read as the SDK reads them: the gain of one buffer is for large ones. */
const SMALL_BODY_BYTES = 1024 * 1024;
/** Largest body read into a buffer allocated up front from its Content-Length. */
const PREALLOCATED_BODY_MAX_BYTES = 512 * 1024 * 1024;
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
  /** server-side encryption asked for on every write */
  sse?: SseParams;
}

export interface StoredObject {
  body: Buffer;
  versionId?: string;
  /** the ETag, as the store gave it (quoted) */
  etag?: string;
}

export interface ListedObject {
  key: string;
  size: number;
  lastModified?: Date;
}

export interface ListedPage {
  objects: ListedObject[];
  /** no page follows */
  last: boolean;
}

export interface ListedVersionPage {
  versions: ListedVersion[];
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

function commandName(command: AnyCommand): string {
  return command.constructor.name.replace(/Command$/, "");
}

/** What `call` does with an error that is an answer rather than a failure (a 404, a 412). */
type Recover<T> = (error: unknown) => { value: T } | undefined;

export class S3Store {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly metrics: CheckpointerMetrics;
  private readonly logger: Logger;
  private readonly multipart: MultipartSettings;
  private readonly sse: SseParams | undefined;
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
    this.sse = config.sse;
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
        throw new CircuitOpenError(
          `S3 failed repeatedly and the circuit breaker is open; ${command} was not sent, retry later`,
          { cause: last ?? e },
        );
      }
      const error = isTaskCancelledError(e)
        ? new S3RequestError(`${command} timed out after ${attempt} attempt(s)`, {
            cause: last ?? e,
            s3Code: "Timeout",
          })
        : e;
      // a 404 or 412 is an answer, not a failure of S3
      if (isRetryable(last ?? e) || isTaskCancelledError(e))
        this.logger.error({ command, attempts: attempt, ...describeError(last ?? e) }, "S3 request failed");
      throw error;
    }
  }

  /**
   * Sends a command under the policy (each attempt sends it again). A caller's own signal
   * (lib-storage's, when it aborts an upload) aborts the attempt too.
   */
  async send<Output>(command: AnyCommand, options?: { abortSignal?: AbortSignal }): Promise<Output> {
    return this.request(commandName(command), (signal) =>
      this.sendOnce<Output>(command, {
        abortSignal: options?.abortSignal ? AbortSignal.any([signal, options.abortSignal]) : signal,
      }),
    );
  }

  /**
   * {@link send}, with a failure as a typed error about `key`; `recover` turns the errors that
   * are answers (a 404 of a missing key, a 412 of a conditional write) into a value.
   */
  private async call<Output, Alt = never>(
    command: AnyCommand,
    key?: string,
    recover?: Recover<Alt>,
  ): Promise<Output | Alt> {
    try {
      return await this.send<Output>(command);
    } catch (e) {
      const answer = recover?.(e);
      if (answer) return answer.value;
      throw fromSdkError(e, commandName(command), this.bucket, key);
    }
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
   * GetObject; `undefined` when the key (or version) does not exist. A body longer than
   * `maxBytes` is a CheckpointCorruptedError, found from its Content-Length before a byte of it is
   * read (or as soon as more arrive, without one): anyone who may write the bucket could
   * otherwise make a read hold gigabytes before the envelope refused them.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
   */
  async get(key: string, versionId?: string, options: { maxBytes?: number } = {}): Promise<StoredObject | undefined> {
    try {
      // the body is read inside the attempt: a connection reset mid-response is retried too
      return await this.request("GetObject", async (signal) => {
        const res = await this.sendOnce<{
          Body?: AsyncIterable<Uint8Array> & { transformToByteArray(): Promise<Uint8Array> };
          ContentLength?: number;
          VersionId?: string;
          ETag?: string;
        }>(new GetObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }), { abortSignal: signal });
        const bytes = res.Body ? await readBody(res.Body, res.ContentLength, key, options.maxBytes) : new Uint8Array();
        this.metrics.bytesRead(bytes.byteLength);
        const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return { body, versionId: res.VersionId, etag: res.ETag };
      });
    } catch (e) {
      // a version id that names a delete marker answers 405; a malformed one 400 on some stores
      if (isNotFound(e) || (versionId !== undefined && (statusOf(e) === 405 || statusOf(e) === 400))) return undefined;
      throw fromSdkError(e, "GetObject", this.bucket, key);
    }
  }

  /**
   * A presigned GetObject URL of `key`, valid for `expiresInSeconds` from `signingDate` (now by
   * default). Signed here with the
   * client's credentials (SigV4 query parameters); nothing is sent, so there is nothing for the
   * policy to retry. The presigner works on a copy of the command's middleware stack: the
   * caller's client is left as it is. A URL signed with temporary credentials stops working
   * when they expire, whatever `expiresInSeconds` says.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html
   */
  presignGet(key: string, expiresInSeconds: number, signingDate?: Date): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: expiresInSeconds,
      signingDate,
    });
  }

  /**
   * HeadObject: the SHA-256 metadata of an object (`null` without it), `undefined` when it does
   * not exist.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
   */
  async headSha256(key: string, versionId?: string): Promise<string | undefined | null> {
    const res = await this.call<{ Metadata?: Record<string, string> }, undefined>(
      new HeadObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }),
      key,
      (e) => (isNotFound(e) ? { value: undefined } : undefined),
    );
    return res && (res.Metadata?.[SHA256_METADATA] ?? null);
  }

  /**
   * HeadObject: the current ETag of an object, `undefined` when it does not exist.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
   */
  async headEtag(key: string): Promise<string | undefined> {
    const res = await this.call<{ ETag?: string }, undefined>(
      new HeadObjectCommand({ Bucket: this.bucket, Key: key }),
      key,
      (e) => (isNotFound(e) ? { value: undefined } : undefined),
    );
    return res?.ETag;
  }

  /**
   * PutObject with `If-Match`: replaces the object only while its current ETag is `etag`.
   * `{ written: false }` when it is not (412), when the key is gone (404), or when another
   * write of the key won while this one was in flight (409). Always one PutObject, whatever
   * the size (up to S3's 5 GiB for one request): Ceph RGW ignores `If-Match` on
   * CompleteMultipartUpload, so a multipart upload would replace unconditionally there.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html#API_PutObject_RequestSyntax
   */
  async putIfMatch(
    key: string,
    body: Buffer,
    options: { sha256: string; etag: string },
  ): Promise<{ written: true; versionId?: string; etag?: string } | { written: false }> {
    const res = await this.call<{ VersionId?: string; ETag?: string }, { written: false }>(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ContentType: "application/octet-stream",
        Metadata: { [SHA256_METADATA]: options.sha256 },
        IfMatch: options.etag,
        ...this.sse,
        Body: body,
        ContentLength: body.length,
      }),
      key,
      (e) =>
        isPreconditionFailed(e) || isNotFound(e) || isConditionalConflict(e)
          ? { value: { written: false } }
          : undefined,
    );
    if ("written" in res) return res;
    this.metrics.bytesWritten(body.length);
    return { written: true, versionId: res.VersionId, etag: res.ETag };
  }

  /**
   * True when {@link put} may send `body` as a multipart upload (lib-storage): a body sealed
   * whole from the threshold on, and every streamed body (one that ends within the first part
   * goes as one PutObject, but that is known only once it is made).
   */
  mayUploadInParts(body: Buffer | StreamedBody): boolean {
    return !Buffer.isBuffer(body) || body.length >= this.multipart.thresholdBytes;
  }

  /**
   * PutObject, or a lib-storage multipart Upload above the threshold. With `ifNoneMatch`
   * the write is a conditional create and a 412 answers `{ exists: true }`.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
   */
  async put(
    key: string,
    body: Buffer | StreamedBody,
    options: { sha256: string; ifNoneMatch?: boolean },
  ): Promise<{ exists: true } | { exists: false; versionId?: string; etag?: string }> {
    const params = {
      Bucket: this.bucket,
      Key: key,
      ContentType: "application/octet-stream",
      Metadata: { [SHA256_METADATA]: options.sha256 },
      ...(options.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
      // on PutObject and, through lib-storage, on CreateMultipartUpload
      ...this.sse,
    };
    const exists = (e: unknown) =>
      options.ifNoneMatch && isPreconditionFailed(e) ? { value: { exists: true as const } } : undefined;
    const whole = Buffer.isBuffer(body) ? body : undefined;
    if (whole && whole.length < this.multipart.thresholdBytes) {
      const res = await this.call<{ VersionId?: string; ETag?: string }, { exists: true }>(
        new PutObjectCommand({ ...params, Body: whole, ContentLength: whole.length }),
        key,
        exists,
      );
      if ("exists" in res) return res;
      this.metrics.bytesWritten(whole.length);
      return { exists: false, versionId: res.VersionId, etag: res.ETag };
    }
    // a streamed body is made while it is sent: lib-storage takes a part at a time (a single
    // PutObject when it ends within the first part), so at most queueSize parts are held
    let sent = 0;
    const counted = async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        sent += chunk.byteLength;
        yield chunk;
      }
    };
    try {
      const upload = new Upload({
        client: this.uploadClient,
        params: {
          ...params,
          Body: whole ?? Readable.from(counted((body as StreamedBody).stream()), { objectMode: false }),
        },
        partSize: this.multipart.partSizeBytes,
        queueSize: this.multipart.queueSize,
        // on failure lib-storage aborts the multipart upload: no orphaned parts are left
        leavePartsOnError: false,
      });
      const res = await upload.done();
      this.metrics.bytesWritten(whole?.length ?? sent);
      const done = res as { VersionId?: string; ETag?: string };
      return { exists: false, versionId: done.VersionId, etag: done.ETag };
    } catch (e) {
      const answer = exists(e);
      if (answer) return answer.value;
      throw fromSdkError(e, "multipart upload", this.bucket, key);
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
      const res = await this.call<{
        Contents?: { Key?: string; Size?: number; LastModified?: Date }[];
        IsTruncated?: boolean;
        NextContinuationToken?: string;
      }>(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          StartAfter: token ? undefined : options.startAfter,
          ContinuationToken: token,
          MaxKeys: pageSize,
        }),
        prefix,
      );
      const last = !res.IsTruncated;
      // a page that says "more follows" must say where: stopping here would end a delete, a
      // purge or a list short in silence
      if (!last && (!res.NextContinuationToken || res.NextContinuationToken === token)) {
        throw stalledListing("ListObjectsV2", prefix);
      }
      yield {
        objects: (res.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, lastModified: o.LastModified })),
        last,
      };
      if (last) return;
      token = res.NextContinuationToken;
      pageSize = MAX_LIST_KEYS;
    }
  }

  /**
   * ListObjectsV2 with a `/` delimiter: the "folders" right below `prefix`, in key order, page
   * by page (each a full prefix ending in `/`).
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
   */
  async *listFolders(prefix: string, options: { startAfter?: string } = {}): AsyncGenerator<string[]> {
    let token: string | undefined;
    for (;;) {
      const res = await this.call<{
        CommonPrefixes?: { Prefix?: string }[];
        IsTruncated?: boolean;
        NextContinuationToken?: string;
      }>(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: "/",
          StartAfter: token ? undefined : options.startAfter,
          ContinuationToken: token,
          MaxKeys: MAX_LIST_KEYS,
        }),
        prefix,
      );
      if (res.IsTruncated && (!res.NextContinuationToken || res.NextContinuationToken === token)) {
        throw stalledListing("ListObjectsV2", prefix);
      }
      yield (res.CommonPrefixes ?? []).map((p) => p.Prefix!).filter(Boolean);
      if (!res.IsTruncated) return;
      token = res.NextContinuationToken;
    }
  }

  /**
   * ListObjectVersions, page by page: versions and delete markers, newest first per key.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
   */
  async *listVersions(prefix: string): AsyncGenerator<ListedVersion[]> {
    for await (const { versions } of this.versionPages(prefix)) yield versions;
  }

  /**
   * ListObjectVersions pages with `last` marking the final one; `keyMarker` starts after that
   * key (as `StartAfter` does for ListObjectsV2), `pageSize` bounds the first page. The SDK
   * returns a page's versions and its delete markers in two lists: within each, a key's entries
   * come newest first.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
   */
  async *versionPages(
    prefix: string,
    options: { keyMarker?: string; pageSize?: number } = {},
  ): AsyncGenerator<ListedVersionPage> {
    let keyMarker: string | undefined = options.keyMarker;
    let versionMarker: string | undefined;
    let pageSize = options.pageSize ?? MAX_LIST_KEYS;
    for (;;) {
      const res = await this.call<{
        Versions?: { Key?: string; VersionId?: string; IsLatest?: boolean; LastModified?: Date; Size?: number }[];
        DeleteMarkers?: { Key?: string; VersionId?: string; IsLatest?: boolean; LastModified?: Date }[];
        IsTruncated?: boolean;
        NextKeyMarker?: string;
        NextVersionIdMarker?: string;
      }>(
        new ListObjectVersionsCommand({
          Bucket: this.bucket,
          Prefix: prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionMarker,
          MaxKeys: pageSize,
        }),
        prefix,
      );
      const versions: ListedVersion[] = [
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
      const last = !res.IsTruncated;
      if (
        !last &&
        (!res.NextKeyMarker || (res.NextKeyMarker === keyMarker && res.NextVersionIdMarker === versionMarker))
      ) {
        throw stalledListing("ListObjectVersions", prefix);
      }
      yield { versions, last };
      if (last) return;
      keyMarker = res.NextKeyMarker;
      versionMarker = res.NextVersionIdMarker;
      pageSize = MAX_LIST_KEYS;
    }
  }

  /** Every version and delete marker of exactly one key, as listed. */
  async entriesOf(key: string): Promise<ListedVersion[]> {
    const all: ListedVersion[] = [];
    // the listing is by prefix: keys that merely start with `key` are left out
    for await (const page of this.listVersions(key)) all.push(...page.filter((v) => v.key === key));
    return all;
  }

  /** The versions (not delete markers) of exactly one key, newest first. */
  async versionsOf(key: string): Promise<ListedVersion[]> {
    return (await this.entriesOf(key)).filter((v) => !v.isDeleteMarker);
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
      const res = await this.call<{ Errors?: { Key?: string; VersionId?: string; Code?: string }[] }>(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      for (const err of res.Errors ?? []) failed.push({ key: err.Key ?? "", versionId: err.VersionId, code: err.Code });
    }
    return failed;
  }

  /**
   * DeleteObject of one version; a version already gone is no error.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
   */
  async deleteVersion(key: string, versionId: string): Promise<void> {
    await this.call(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, VersionId: versionId }), key, (e) =>
      isNotFound(e) ? { value: undefined } : undefined,
    );
  }

  // ---- bucket -------------------------------------------------------------------------------

  /**
   * The bucket's lifecycle rules; `[]` when it has none.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLifecycleConfiguration.html
   */
  async getLifecycleRules(): Promise<LifecycleRule[]> {
    const res = await this.call<{ Rules?: LifecycleRule[] }, { Rules: [] }>(
      new GetBucketLifecycleConfigurationCommand({ Bucket: this.bucket }),
      undefined,
      (e) =>
        sdkErrorName(e) === "NoSuchLifecycleConfiguration" || statusOf(e) === 404
          ? { value: { Rules: [] } }
          : undefined,
    );
    return res.Rules ?? [];
  }

  /**
   * Replaces the bucket's lifecycle configuration with `rules` (callers merge first).
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketLifecycleConfiguration.html
   */
  async putLifecycleRules(rules: LifecycleRule[]): Promise<void> {
    await this.call(
      new PutBucketLifecycleConfigurationCommand({ Bucket: this.bucket, LifecycleConfiguration: { Rules: rules } }),
    );
  }

  /**
   * HeadBucket, creating the bucket when asked. Typed errors for missing bucket, 403, network.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
   */
  async ensureBucket(create: boolean): Promise<void> {
    const missing = await this.call<unknown, "missing">(
      new HeadBucketCommand({ Bucket: this.bucket }),
      undefined,
      (e) =>
        create && fromSdkError(e, "HeadBucket", this.bucket) instanceof BucketNotFoundError
          ? { value: "missing" }
          : undefined,
    );
    if (missing !== "missing") return;
    // another process may create it in between: that is what we wanted
    const raced = (e: unknown) => {
      const name = sdkErrorName(e);
      return name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists"
        ? { value: "raced" as const }
        : undefined;
    };
    if ((await this.call(new CreateBucketCommand({ Bucket: this.bucket }), undefined, raced)) !== "raced") {
      this.logger.info({ bucket: this.bucket }, "created bucket");
    }
  }

  /**
   * The bucket's versioning status; `"Disabled"` on stores without a versioning API.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html
   */
  async getVersioning(): Promise<"Enabled" | "Suspended" | "Disabled"> {
    const res = await this.call<{ Status?: string }, { Status: undefined }>(
      new GetBucketVersioningCommand({ Bucket: this.bucket }),
      undefined,
      (e) => (statusOf(e) === 501 || statusOf(e) === 400 ? { value: { Status: undefined } } : undefined),
    );
    return res.Status === "Enabled" ? "Enabled" : res.Status === "Suspended" ? "Suspended" : "Disabled";
  }

  /**
   * Turns versioning on.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketVersioning.html
   */
  async enableVersioning(): Promise<void> {
    await this.call(
      new PutBucketVersioningCommand({ Bucket: this.bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  }
}

/** A listing page that says more follows without saying where (a store fault): never "done". */
function stalledListing(command: string, prefix: string): S3RequestError {
  return new S3RequestError(
    `${command} of "${prefix}" said more keys follow but gave no new position to go on from; the listing was stopped rather than cut short`,
    { key: prefix, s3Code: "StalledListing" },
  );
}

/**
 * A response body, read into one buffer of its declared length as it arrives (a large body is
 * then held once, not as a list of chunks and again joined); without a usable length, as the
 * SDK reads it, or counted against `maxBytes` when there is one. A body that runs past its
 * length, or ends short, fails the attempt (retried); one longer than `maxBytes` fails the read.
 */
async function readBody(
  body: AsyncIterable<Uint8Array> & { transformToByteArray(): Promise<Uint8Array>; destroy?(): void },
  length: number | undefined,
  key: string,
  maxBytes = Infinity,
): Promise<Uint8Array> {
  const tooLong = (bytes: number, more = "") => {
    // the rest is not wanted: the connection is closed rather than read to its end
    body.destroy?.();
    return new CheckpointCorruptedError(
      `object ${key} is ${bytes}${more} bytes long, more than an object within maxObjectBytes can be ` +
        `(${maxBytes} bytes); raise the option if such objects are expected`,
      { key },
    );
  };
  if (length !== undefined && length > maxBytes) throw tooLong(length);
  if (maxBytes !== Infinity && (length === undefined || !Number.isSafeInteger(length))) {
    if (typeof body[Symbol.asyncIterator] !== "function") return body.transformToByteArray();
    // no length to go by: read, counting
    const chunks: Uint8Array[] = [];
    let read = 0;
    for await (const chunk of body) {
      read += chunk.byteLength;
      if (read > maxBytes) throw tooLong(read, "+");
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, read);
  }
  // a length is what the server says: it is trusted with an allocation only up to a bound
  if (
    length === undefined ||
    !Number.isSafeInteger(length) ||
    length < SMALL_BODY_BYTES ||
    length > PREALLOCATED_BODY_MAX_BYTES ||
    typeof body[Symbol.asyncIterator] !== "function"
  ) {
    return body.transformToByteArray();
  }
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.byteLength > length)
      throw new S3RequestError(`GetObject body is longer than its Content-Length (${length})`, {
        s3Code: "BodyLengthMismatch",
      });
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  if (at !== length)
    throw new S3RequestError(`GetObject body ended after ${at} of ${length} bytes`, { s3Code: "BodyLengthMismatch" });
  return out;
}
