/**
 * Immutable objects on stores that differ: `setup()` probes what the bucket supports, and every
 * checkpoint record, channel value and regular-writes object is written once with the strongest
 * mechanism the bucket has (conditional create; on versioned buckets that ignore
 * `If-None-Match`, as Ceph RGW does, the first version wins: readers read it; HEAD-then-write
 * elsewhere).
 *
 * First version wins (`version-check`): a write is one `PutObject`. A second write of the same
 * key adds a newer version, and readers, which list versions anyway (ListObjectVersions instead
 * of ListObjectsV2, the same number of requests), read the oldest version written since the
 * key's last delete marker: the first writer's, whatever came after. Channel values, which are
 * read without a listing, are checked against the SHA-256 their record names, and looked up
 * among the key's versions when the newest is another writer's. See {@link liveVersion}.
 */

import { randomUUID } from "node:crypto";
import type { ObjectIdentifier } from "@aws-sdk/client-s3";
import type { StreamedBody } from "./codec.js";
import { CheckpointConflictError, S3RequestError, VersioningUnavailableError } from "./errors.js";
import type { ListedVersion, S3Store } from "./store.js";

/** What `setup()` found out about the bucket. */
export interface BucketCapabilities {
  /** The bucket's versioning status. */
  versioning: "Enabled" | "Suspended" | "Disabled";
  /** `PutObject` with `If-None-Match: *` refuses to overwrite (412). */
  conditionalCreate: boolean;
  /** How checkpoint ids are kept immutable on this bucket. */
  immutability: "conditional-create" | "version-check" | "check-then-write";
}

/**
 * How a rewrite of an object that was read (re-encryption) is kept from replacing content that
 * changed after the read (see {@link ImmutableWriter.rewrite}).
 */
export type RewriteGuard = "if-match" | "version-check" | "check-then-write";

/** What a rewrite was based on: the object as it was read. */
export interface RewriteBase {
  /** the current ETag of the key when it was read */
  etag?: string;
  /** every version and delete marker of the key, listed before it was read (`version-check`) */
  entries?: readonly ListedVersion[];
}

/** A wrong ETag for the probe: well-formed, and never the ETag of anything written. */
const PROBE_WRONG_ETAG = `"${"0".repeat(32)}"`;

export type CreateOutcome = { outcome: "created"; versionId?: string } | { outcome: "identical"; versionId?: string };

export class ImmutableWriter {
  private capabilities: Promise<BucketCapabilities> | undefined;
  private found: BucketCapabilities | undefined;
  private guard: Promise<{ guard: RewriteGuard; bareEtag: boolean }> | undefined;

  constructor(
    private readonly store: S3Store,
    private readonly probeKey: (token: string) => string,
    /** option `versioning: "required"`: a bucket without versioning is refused at the first write too */
    private readonly versioningRequired = false,
  ) {}

  /**
   * Writes an object that must never change once written. Equal content written again (a
   * retry) is fine; other content under the same key is a {@link CheckpointConflictError} where
   * the bucket can tell in the write itself:
   *
   * - conditional create (AWS S3, MinIO, Ceph on unversioned buckets): one request, and a second
   *   writer with other content gets the error;
   * - versioned buckets that ignore `If-None-Match` (Ceph RGW): one request; the first version
   *   is what readers read, a later one with other content is never shown (its writer is not
   *   told: that would take a second request, a listing of the key's versions);
   * - unversioned buckets without conditional writes: HEAD, then write (not race-free).
   */
  createOnce(key: string, body: Buffer | StreamedBody, sha256: string, what: string): Promise<CreateOutcome> {
    return this.writeFirst(key, body, sha256, (existing) => {
      if (existing === sha256) return { outcome: "identical" };
      throw new CheckpointConflictError(
        `${what} was already written with other content; a checkpoint is never overwritten`,
        { key },
      );
    });
  }

  /** Insert-if-absent: when the key exists already, whatever it holds stays and this is a no-op. */
  async createIfAbsent(key: string, body: Buffer | StreamedBody, sha256: string): Promise<void> {
    await this.writeFirst(key, body, sha256, undefined);
  }

  /** What the probe found, once it has run; `undefined` before. */
  known(): BucketCapabilities | undefined {
    return this.found;
  }

  /** `onExisting` decides about an existing object by its SHA-256; without one, the existing wins. */
  private async writeFirst(
    key: string,
    body: Buffer | StreamedBody,
    sha256: string,
    onExisting: ((existing: string | null | undefined) => CreateOutcome) | undefined,
  ): Promise<CreateOutcome> {
    const caps = await this.probe();
    const existingWins = (existing: () => Promise<string | null | undefined>) =>
      onExisting ? existing().then(onExisting) : Promise.resolve<CreateOutcome>({ outcome: "identical" });
    // Ceph RGW honours `If-None-Match: *` on PutObject but not on CompleteMultipartUpload: a
    // second writer's large channel value replaced the first, and the record that names the first
    // could no longer be read (boundaries.test.ts). A body that may go up in parts is looked for
    // first, as HEAD-then-write does (not race-free; AWS S3 honours the condition there as well)
    const headFirst =
      caps.immutability === "check-then-write" ||
      (caps.immutability === "conditional-create" && this.store.mayUploadInParts(body));
    if (headFirst) {
      const existing = await this.store.headSha256(key);
      if (existing !== undefined) return existingWins(async () => existing);
    }
    if (caps.immutability === "check-then-write") {
      const res = await this.store.put(key, body, { sha256 });
      return { outcome: "created", versionId: res.exists ? undefined : res.versionId };
    }
    // a conditional create answers 412 for a key that exists; where the first version wins
    // (version-check) this is a plain write, and readers take the first (see the module comment)
    const res = await this.store.put(key, body, { sha256, ifNoneMatch: caps.conditionalCreate });
    if (res.exists) return existingWins(() => this.store.headSha256(key));
    return { outcome: "created", versionId: res.versionId };
  }

  /** Removes the versions of `key`'s live run but `versionId`, which is then the first. */
  private async removeSuperseded(key: string, versionId: string): Promise<void> {
    const live = liveRun(await this.store.entriesOf(key));
    const older = live.filter((v) => v.versionId !== versionId).map((v) => ({ Key: key, VersionId: v.versionId }));
    const failed = await this.store.deleteMany(older);
    if (failed.length > 0) {
      throw new S3RequestError(
        `${failed.length} older versions of ${key} could not be removed (first: ${failed[0]!.code}); run it again`,
        { key },
      );
    }
  }

  /**
   * Writes new content for a key that was read, unless the key changed after the read (another
   * writer replaced it, or it was deleted): `"changed"` then, and what the other writer left
   * stays. Used by re-encryption, which must never bring back what a run replaced meanwhile.
   *
   * - `if-match` (AWS S3, MinIO, Ceph RGW): one PutObject with `If-Match` on the ETag read; the
   *   store refuses it atomically when the key changed.
   * - `version-check` (versioned buckets that ignore `If-Match`): the write, then a listing of
   *   the key's versions; when a version or delete marker appeared since the listing taken
   *   before the read, the version just written is removed again, which leaves the other
   *   writer's current. Readers may see the rewritten (old) content for that moment.
   * - `check-then-write` (unversioned stores without conditional writes): a HEAD compares the
   *   ETag, then the write; a write between the two is lost (not race-free).
   *
   * Where the first version of an immutable key wins, the versions a written one supersedes are
   * removed, so it is the first.
   */
  async rewrite(
    key: string,
    body: Buffer,
    sha256: string,
    base: RewriteBase,
    immutable: boolean,
  ): Promise<"written" | "changed"> {
    const caps = await this.probe();
    const { guard, bareEtag } = await this.rewriteGuard();
    let versionId: string | undefined;
    if (guard === "if-match") {
      if (base.etag === undefined) return "changed";
      const etag = bareEtag ? base.etag.replaceAll('"', "") : base.etag;
      const res = await this.store.putIfMatch(key, body, { sha256, etag });
      if (!res.written) return "changed";
      versionId = res.versionId;
    } else if (guard === "version-check") {
      const before = new Set((base.entries ?? []).map(entryId));
      const res = await this.store.put(key, body, { sha256 });
      versionId = res.exists ? undefined : res.versionId;
      if (!versionId) {
        throw new S3RequestError(`the store gave no version id for ${key} on a versioned bucket; run it again`, {
          key,
        });
      }
      const after = await this.store.entriesOf(key);
      if (after.some((v) => v.versionId !== versionId && !before.has(entryId(v)))) {
        // written over (or under) a write that came after the read: take ours back
        await this.store.deleteVersion(key, versionId);
        return "changed";
      }
    } else {
      if ((await this.store.headEtag(key)) !== base.etag) return "changed";
      await this.store.put(key, body, { sha256 });
    }
    if (immutable && caps.immutability === "version-check" && versionId) await this.removeSuperseded(key, versionId);
    return "written";
  }

  /**
   * Which {@link RewriteGuard} the bucket allows, found once: a probe object is written, then
   * written again with `If-Match` on a wrong ETag (a store that honours it refuses) and on its
   * own (it must be accepted: Ceph RGW compares the ETag without its quotes, AWS S3 with them,
   * so both forms are tried), and removed again.
   */
  rewriteGuard(): Promise<{ guard: RewriteGuard; bareEtag: boolean }> {
    this.guard ??= this.runRewriteProbe().catch((e) => {
      this.guard = undefined;
      throw e;
    });
    return this.guard;
  }

  private async runRewriteProbe(): Promise<{ guard: RewriteGuard; bareEtag: boolean }> {
    const { versioning } = await this.probe();
    const key = this.probeKey(randomUUID());
    const body = Buffer.from("probe");
    let honoured: { bareEtag: boolean } | undefined;
    try {
      const first = await this.store.put(key, body, { sha256: "probe" });
      const etag = first.exists ? undefined : first.etag;
      const wrong = await this.store.putIfMatch(key, body, { sha256: "probe", etag: PROBE_WRONG_ETAG });
      if (etag && !wrong.written) {
        for (const bareEtag of [false, true]) {
          const right = await this.store.putIfMatch(key, body, {
            sha256: "probe",
            etag: bareEtag ? etag.replaceAll('"', "") : etag,
          });
          if (right.written) {
            honoured = { bareEtag };
            break;
          }
        }
      }
    } catch (e) {
      // a store that rejects the header outright (400/501) has no conditional replace
      if (!(e instanceof S3RequestError)) throw e;
    } finally {
      await this.removeProbe(key, versioning);
    }
    if (honoured) return { guard: "if-match", ...honoured };
    return { guard: versioning === "Enabled" ? "version-check" : "check-then-write", bareEtag: false };
  }

  /** Unconditional write (special writes, which replace). */
  async replace(key: string, body: Buffer | StreamedBody, sha256: string): Promise<void> {
    await this.store.put(key, body, { sha256 });
  }

  /**
   * Finds out, once per store (until {@link forgetCapabilities}), whether the bucket is
   * versioned and whether it honours conditional creates: writes a probe object twice with
   * `If-None-Match: *` and removes every version of it again.
   */
  probe(): Promise<BucketCapabilities> {
    this.capabilities ??= this.runProbe(this.probeKey)
      .then((caps) => {
        if (this.versioningRequired && caps.versioning !== "Enabled") {
          throw new VersioningUnavailableError(
            `bucket "${this.store.bucket}" has no versioning and option \`versioning\` is "required"; call setup({ versioning: true }) or enable it on the bucket`,
          );
        }
        this.found = caps;
        return caps;
      })
      .catch((e) => {
        this.capabilities = undefined;
        throw e;
      });
    return this.capabilities;
  }

  forgetCapabilities(): void {
    this.capabilities = undefined;
    this.found = undefined;
    this.guard = undefined;
  }

  /** Removes a probe object: every version of it on a versioned bucket. */
  private async removeProbe(key: string, versioning: BucketCapabilities["versioning"]): Promise<void> {
    const versions: ObjectIdentifier[] = [];
    if (versioning === "Disabled") versions.push({ Key: key });
    else
      for await (const page of this.store.listVersions(key))
        for (const v of page) if (v.key === key) versions.push({ Key: key, VersionId: v.versionId });
    await this.store.deleteMany(versions);
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
      await this.removeProbe(key, versioning);
    }
    const immutability: BucketCapabilities["immutability"] = conditionalCreate
      ? "conditional-create"
      : versioning === "Enabled"
        ? "version-check"
        : "check-then-write";
    return { versioning, conditionalCreate, immutability };
  }
}

/** A listing entry's identity: a delete marker and a version may share an id on some stores. */
function entryId(v: ListedVersion): string {
  return `${v.isDeleteMarker ? "m" : "v"}:${v.versionId}`;
}

/**
 * The versions of one key written since its newest delete marker, newest first: what a write
 * of the key has left since it was last deleted. Empty when the key's current entry is a delete
 * marker (the key reads as absent). A listing gives versions and delete markers apart, each
 * newest first, with times: a version counts as newer than a marker when its time is later
 * (S3 and Ceph RGW keep milliseconds, so a delete and a new write of the same key in the same
 * millisecond is the one case this cannot order; the write is then taken as the older).
 */
export function liveRun(entries: readonly ListedVersion[]): ListedVersion[] {
  const versions = entries.filter((e) => !e.isDeleteMarker);
  const markers = entries.filter((e) => e.isDeleteMarker);
  if (markers.some((m) => m.isLatest)) return [];
  const latest = versions.find((v) => v.isLatest) ?? versions[0];
  if (!latest) return [];
  const cut = Math.max(...markers.map((m) => m.lastModified?.getTime() ?? 0));
  const run = versions.filter((v) => markers.length === 0 || (v.lastModified?.getTime() ?? 0) > cut);
  // an entry flagged latest is current, whatever the times say
  return run.length > 0 ? run : [latest];
}

/**
 * The version of a key that readers read: for an immutable key (`first`) the oldest of its
 * {@link liveRun} (the first writer's), for a replaceable one the newest. `undefined` when the
 * key reads as absent.
 */
export function liveVersion(entries: readonly ListedVersion[], which: "first" | "newest"): string | undefined {
  const run = liveRun(entries);
  return (which === "first" ? run[run.length - 1] : run[0])?.versionId;
}

/**
 * {@link liveVersion} as the key was before it was deleted (a soft-deleted thread read from
 * history): the delete markers above its newest version are set aside first.
 */
export function lastLiveVersion(entries: readonly ListedVersion[], which: "first" | "newest"): string | undefined {
  const versions = entries.filter((e) => !e.isDeleteMarker);
  const newest =
    versions.find((v) => v.isLatest) ??
    versions.reduce<ListedVersion | undefined>(
      (a, v) => (a === undefined || (v.lastModified?.getTime() ?? 0) > (a.lastModified?.getTime() ?? 0) ? v : a),
      undefined,
    );
  if (!newest) return undefined;
  const at = newest.lastModified?.getTime() ?? 0;
  const before = entries
    .filter((e) => !e.isDeleteMarker || (e.lastModified?.getTime() ?? 0) < at)
    .map((e) => ({ ...e, isLatest: e === newest }));
  return liveVersion(before, which);
}
