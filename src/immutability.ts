/**
 * Immutable objects on stores that differ: `setup()` probes what the bucket supports, and every
 * checkpoint record, channel value and regular-writes object is written once with the strongest
 * mechanism the bucket has (conditional create; a version check on versioned buckets that ignore
 * `If-None-Match`, as Ceph RGW does; HEAD-then-write elsewhere).
 */

import { randomUUID } from "node:crypto";
import type { ObjectIdentifier } from "@aws-sdk/client-s3";
import { CheckpointConflictError, S3RequestError, VersioningUnavailableError } from "./errors.js";
import type { S3Store } from "./store.js";

/** What `setup()` found out about the bucket. */
export interface BucketCapabilities {
  /** The bucket's versioning status. */
  versioning: "Enabled" | "Suspended" | "Disabled";
  /** `PutObject` with `If-None-Match: *` refuses to overwrite (412). */
  conditionalCreate: boolean;
  /** How checkpoint ids are kept immutable on this bucket. */
  immutability: "conditional-create" | "version-check" | "check-then-write";
}

export type CreateOutcome =
  | { outcome: "created"; versionId?: string }
  | { outcome: "identical"; versionId?: string };

export class ImmutableWriter {
  private capabilities: Promise<BucketCapabilities> | undefined;

  constructor(
    private readonly store: S3Store,
    private readonly probeKey: (token: string) => string,
    /** option `versioning: "required"`: a bucket without versioning is refused at the first write too */
    private readonly versioningRequired = false,
  ) {}

  /**
   * Writes an object that must never change once written. Equal content written again (a
   * retry) is fine; other content under the same key is a {@link CheckpointConflictError}.
   *
   * - conditional create (AWS S3, MinIO, Ceph on unversioned buckets): one request;
   * - versioned buckets that ignore `If-None-Match` (Ceph RGW): write, then list the key's
   *   versions; the oldest version is the object, a later different one is removed again;
   * - unversioned buckets without conditional writes: HEAD, then write (not race-free).
   */
  createOnce(key: string, body: Buffer, sha256: string, what: string): Promise<CreateOutcome> {
    return this.writeFirst(key, body, sha256, (existing) => {
      if (existing === sha256) return { outcome: "identical" };
      throw new CheckpointConflictError(`${what} was already written with other content; a checkpoint is never overwritten`, { key });
    });
  }

  /** Insert-if-absent: when the key exists already, whatever it holds stays and this is a no-op. */
  async createIfAbsent(key: string, body: Buffer, sha256: string): Promise<void> {
    await this.writeFirst(key, body, sha256, undefined);
  }

  /** `judge` decides about an existing object by its SHA-256; without one, the existing wins. */
  private async writeFirst(
    key: string,
    body: Buffer,
    sha256: string,
    judge: ((existing: string | null | undefined) => CreateOutcome) | undefined,
  ): Promise<CreateOutcome> {
    const caps = await this.probe();
    const existingWins = (existing: () => Promise<string | null | undefined>) =>
      judge ? existing().then(judge) : Promise.resolve<CreateOutcome>({ outcome: "identical" });
    if (caps.immutability === "check-then-write") {
      const existing = await this.store.headSha256(key);
      if (existing !== undefined) return existingWins(async () => existing);
      const res = await this.store.put(key, body, { sha256 });
      return { outcome: "created", versionId: res.exists ? undefined : res.versionId };
    }
    const res = await this.store.put(key, body, { sha256, ifNoneMatch: caps.conditionalCreate });
    if (res.exists) return existingWins(() => this.store.headSha256(key));
    if (caps.immutability === "conditional-create") return { outcome: "created", versionId: res.versionId };

    // version-check: ListObjectVersions returns a key's versions newest first
    const versions = await this.store.versionsOf(key);
    const oldest = versions[versions.length - 1];
    if (!oldest || versions.length === 1 || oldest.versionId === res.versionId) return { outcome: "created", versionId: res.versionId };
    const outcome = await existingWins(() => this.store.headSha256(key, oldest.versionId)).catch(async (e: unknown) => {
      // other content: take our version back off the original, then refuse
      if (res.versionId) await this.store.deleteVersion(key, res.versionId);
      throw e;
    });
    // insert-if-absent: the original stays current; equal content (a retry) may stay as it is
    if (!judge && res.versionId) await this.store.deleteVersion(key, res.versionId);
    return { ...outcome, versionId: judge ? res.versionId : oldest.versionId };
  }

  /** Unconditional write (special writes, which replace). */
  async replace(key: string, body: Buffer, sha256: string): Promise<void> {
    await this.store.put(key, body, { sha256 });
  }

  /**
   * Finds out, once per store (until {@link forgetCapabilities}), whether the bucket is
   * versioned and whether it honours conditional creates: writes a probe object twice with
   * `If-None-Match: *` and removes every version of it again.
   */
  probe(): Promise<BucketCapabilities> {
    this.capabilities ??= this.runProbe(this.probeKey).then((caps) => {
      if (this.versioningRequired && caps.versioning !== "Enabled") {
        throw new VersioningUnavailableError(
          `bucket "${this.store.bucket}" has no versioning and option \`versioning\` is "required"; call setup({ versioning: true }) or enable it on the bucket`,
        );
      }
      return caps;
    }).catch((e) => {
      this.capabilities = undefined;
      throw e;
    });
    return this.capabilities;
  }

  forgetCapabilities(): void {
    this.capabilities = undefined;
  }

  private async runProbe(probeKey: (token: string) => string): Promise<BucketCapabilities> {
    const versioning = await this.store.getVersioning();
    const key = probeKey(randomUUID());
    const body = Buffer.from("probe");
    let conditionalCreate = false;
    try {
      const first = await this.store.put(key, body, { sha256: "probe", ifNoneMatch: true });
      if (!first.exists) {
        const second = await this.store.put(key, body, { sha256: "probe", ifNoneMatch: true });
        conditionalCreate = second.exists;
      }
    } catch (e) {
      // a store that rejects the header outright (400/501) has no conditional create
      if (!(e instanceof S3RequestError)) throw e;
    } finally {
      const versions: ObjectIdentifier[] = [];
      if (versioning === "Disabled") versions.push({ Key: key });
      else for await (const page of this.store.listVersions(key)) for (const v of page) if (v.key === key) versions.push({ Key: key, VersionId: v.versionId });
      await this.store.deleteMany(versions);
    }
    const immutability: BucketCapabilities["immutability"] = conditionalCreate
      ? "conditional-create"
      : versioning === "Enabled"
        ? "version-check"
        : "check-then-write";
    return { versioning, conditionalCreate, immutability };
  }
}
