/** Test helpers: a real S3 client for the server global-setup found, and unique buckets. */
import { randomUUID } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { createClient } from "../../src/index.js";
import type { StoreFacts } from "./global-setup.js";
import { serverLost } from "./server-health.js";

export function s3Config() {
  const s3 = inject("s3");
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
}

/** What the store under test supports (global-setup asked it with plain S3 requests). */
export function storeFacts(): StoreFacts {
  return inject("store");
}

/**
 * A `describe` for tests that need S3 versioning: they run where the store has it and are
 * reported as skipped, with the reason in their name, where it has none (s3rver, for one).
 */
export function describeWithVersioning(name: string, tests: () => void): void {
  describe.runIf(storeFacts().versioning)(`${name} [needs a store with versioning]`, tests);
}

/** A client as a user would build it for an S3-compatible endpoint. */
export function testClient(overrides: Record<string, unknown> = {}): S3Client {
  return createClient({ ...s3Config(), ...overrides });
}

let counter = 0;
/** A bucket name no other test uses. */
export function uniqueBucket(tag: string): string {
  counter += 1;
  return `t-${tag}-${process.pid}-${counter}-${randomUUID().slice(0, 8)}`.toLowerCase().slice(0, 63);
}

export async function createBucket(client: S3Client, bucket: string, versioned: boolean): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (versioned) {
    await client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  }
}

/**
 * Every version and delete marker under a prefix (raw, without the library); on a store without
 * versioning (no ListObjectVersions), every object.
 */
export async function allVersions(
  client: S3Client,
  bucket: string,
  prefix = "",
): Promise<{ Key: string; VersionId?: string; marker: boolean }[]> {
  const out: { Key: string; VersionId?: string; marker: boolean }[] = [];
  if (!storeFacts().versioning) {
    let ContinuationToken: string | undefined;
    for (;;) {
      const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }));
      for (const o of res.Contents ?? []) out.push({ Key: o.Key!, marker: false });
      if (!res.IsTruncated) return out;
      ContinuationToken = res.NextContinuationToken;
    }
  }
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const res = await client.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, VersionIdMarker }),
    );
    for (const v of res.Versions ?? []) out.push({ Key: v.Key!, VersionId: v.VersionId, marker: false });
    for (const m of res.DeleteMarkers ?? []) out.push({ Key: m.Key!, VersionId: m.VersionId, marker: true });
    if (!res.IsTruncated) return out;
    KeyMarker = res.NextKeyMarker;
    VersionIdMarker = res.NextVersionIdMarker;
  }
}

const MAX_DROP_ROUNDS = 10;

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

function isNoSuchBucket(e: unknown): boolean {
  return (e as { name?: string }).name === "NoSuchBucket" || httpStatus(e) === 404;
}

/**
 * Removes a bucket with everything in it. Cleanup never hides a test's own failure behind one
 * of its own: a bucket that was never created (its setup failed) is fine, and once the server is
 * gone (see server-health.ts) there is nothing left to clean.
 */
export async function dropBucket(client: S3Client, bucket: string): Promise<void> {
  if (serverLost() !== undefined) return;
  try {
    // a batch delete may fail partway and leave part of the batch behind (s3rver answers 500
    // when two of its deletes race to remove one empty directory, and answers before its other
    // deletes of the batch are done, so a listing right after may race them and fail too):
    // pause, list again and repeat
    for (let round = 1; ; round += 1) {
      try {
        const versions = await allVersions(client, bucket);
        if (versions.length === 0) break;
        for (let i = 0; i < versions.length; i += 1000) {
          const batch = versions.slice(i, i + 1000).map((v) => ({ Key: v.Key, VersionId: v.VersionId }));
          await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } }));
        }
      } catch (e) {
        if (round >= MAX_DROP_ROUNDS || httpStatus(e) !== 500) throw e;
        await new Promise((resolve) => setTimeout(resolve, 100 * round));
      }
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if (isNoSuchBucket(e)) return;
    throw e;
  }
}

/**
 * A versioned and an unversioned bucket for the tests of one file: created before them,
 * dropped with everything in them after them. The versioned one exists only where the store
 * has versioning (`storeFacts().versioning`); tests that use it run only there.
 */
export function bucketsForFile(tag: string, client: S3Client): { versioned: string; unversioned: string } {
  const buckets = { versioned: uniqueBucket(`${tag}-v`), unversioned: uniqueBucket(`${tag}-u`) };
  beforeAll(async () => {
    await createBucket(client, buckets.unversioned, false);
    if (storeFacts().versioning) await createBucket(client, buckets.versioned, true);
  });
  afterAll(async () => {
    await dropBucket(client, buckets.versioned);
    await dropBucket(client, buckets.unversioned);
  });
  return buckets;
}
