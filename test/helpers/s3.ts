/** Test helpers: a real S3 client for the server global-setup found, and unique buckets. */
import { randomUUID } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, inject } from "vitest";
import { createClient } from "../../src/index.js";

export function s3Config() {
  const s3 = inject("s3");
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  };
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
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
  }
}

/** Every version and delete marker under a prefix (raw, without the library). */
export async function allVersions(client: S3Client, bucket: string, prefix = ""): Promise<{ Key: string; VersionId?: string; marker: boolean }[]> {
  const out: { Key: string; VersionId?: string; marker: boolean }[] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const res = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, VersionIdMarker }));
    for (const v of res.Versions ?? []) out.push({ Key: v.Key!, VersionId: v.VersionId, marker: false });
    for (const m of res.DeleteMarkers ?? []) out.push({ Key: m.Key!, VersionId: m.VersionId, marker: true });
    if (!res.IsTruncated) return out;
    KeyMarker = res.NextKeyMarker;
    VersionIdMarker = res.NextVersionIdMarker;
  }
}

/** Removes a bucket with everything in it. */
export async function dropBucket(client: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const versions = await allVersions(client, bucket);
    if (versions.length === 0) break;
    for (let i = 0; i < versions.length; i += 1000) {
      await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: versions.slice(i, i + 1000).map((v) => ({ Key: v.Key, VersionId: v.VersionId })), Quiet: true },
        }),
      );
    }
  }
  await client.send(new DeleteBucketCommand({ Bucket: bucket }));
}

/**
 * A versioned and an unversioned bucket for the tests of one file: created before them,
 * dropped with everything in them after them.
 */
export function bucketsForFile(tag: string, client: S3Client): { versioned: string; unversioned: string } {
  const buckets = { versioned: uniqueBucket(`${tag}-v`), unversioned: uniqueBucket(`${tag}-u`) };
  beforeAll(async () => {
    await createBucket(client, buckets.versioned, true);
    await createBucket(client, buckets.unversioned, false);
  });
  afterAll(async () => {
    await dropBucket(client, buckets.versioned);
    await dropBucket(client, buckets.unversioned);
  });
  return buckets;
}
