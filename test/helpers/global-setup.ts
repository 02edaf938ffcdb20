/**
 * Finds the S3 server for the integration tests: `S3_ENDPOINT` (+ keys) when set; otherwise
 * LocalStack through testcontainers when a Docker engine answers; otherwise it fails and says
 * what to run. Then asks the server what it supports (versioning, conditional create), with
 * plain S3 requests, so tests that need a feature run only where the store has it and the
 * checkpointer's own probe can be checked against this one.
 */
import { randomUUID } from "node:crypto";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { TestProject } from "vitest/node";
import { createClient } from "../../src/index.js";

let stopContainer: (() => Promise<void>) | undefined;

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

function httpStatus(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/** Whether a second `PutObject` with `If-None-Match: *` is refused, on an unversioned bucket. */
async function probeConditionalCreate(client: S3Client, bucket: string): Promise<boolean> {
  const put = () =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: "probe", Body: "probe", IfNoneMatch: "*" }));
  try {
    await put();
    return await put().then(
      () => false,
      // 412 Precondition Failed is the answer of a store that honours it; anything else is not
      (e: unknown) => httpStatus(e) === 412,
    );
  } catch {
    return false; // the header itself is refused
  } finally {
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "probe" })).catch(() => undefined);
  }
}

/** Whether versioning can be turned on for a bucket (s3rver, for one, answers 501). */
async function probeVersioning(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
    return (await client.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status === "Enabled";
  } catch {
    return false;
  }
}

async function probeStore(s3: {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}): Promise<StoreFacts> {
  const client = createClient({
    endpoint: s3.endpoint,
    region: s3.region,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const facts: StoreFacts = { versioning: false, conditionalCreate: false };
  for (const kind of ["plain", "versioned"] as const) {
    const bucket = `probe-${kind}-${randomUUID()}`;
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
    } catch (e) {
      throw new Error(
        `Could not create a bucket on the S3 server at ${s3.endpoint} (${String(e)}). ` +
          "Is it running, and are S3_ENDPOINT, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY right? " +
          "(npm run test:local starts a local server and stops it after the tests)",
        { cause: e },
      );
    }
    try {
      if (kind === "plain") facts.conditionalCreate = await probeConditionalCreate(client, bucket);
      else facts.versioning = await probeVersioning(client, bucket);
    } finally {
      await client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
    }
  }
  client.destroy();
  return facts;
}

export async function setup(project: TestProject): Promise<void> {
  let endpoint = process.env.S3_ENDPOINT;
  let accessKeyId = process.env.S3_ACCESS_KEY_ID;
  let secretAccessKey = process.env.S3_SECRET_ACCESS_KEY;
  if (!endpoint) {
    if (!(await dockerAnswers())) {
      throw new Error(
        "No S3 server for the tests: S3_ENDPOINT is not set and no Docker engine answers.\n" +
          "Run the tests with a local S3 server:  npm run test:local\n" +
          'or start one and export its variables:  scripts/local-s3.sh start && eval "$(scripts/local-s3.sh env)"',
      );
    }
    const { LocalstackContainer } = await import("@testcontainers/localstack");
    const container = await new LocalstackContainer("localstack/localstack:4").start();
    endpoint = container.getConnectionUri();
    accessKeyId = "test";
    secretAccessKey = "test";
    stopContainer = async () => {
      await container.stop();
    };
  }
  const s3 = {
    endpoint,
    accessKeyId: accessKeyId ?? "",
    secretAccessKey: secretAccessKey ?? "",
    region: process.env.S3_REGION ?? "us-east-1",
  };
  const store = await probeStore(s3);
  console.log(
    `S3 server for the tests: ${endpoint} (versioning: ${store.versioning ? "yes" : "no"}, ` +
      `conditional create: ${store.conditionalCreate ? "yes" : "no"})`,
  );
  project.provide("s3", s3);
  project.provide("store", store);
}

export async function teardown(): Promise<void> {
  await stopContainer?.();
}

/** What the store under test supports, found out with plain S3 requests. */
export interface StoreFacts {
  /** Versioning can be turned on for a bucket. */
  versioning: boolean;
  /** `PutObject` with `If-None-Match: *` is refused (412) when the key exists, on an unversioned bucket. */
  conditionalCreate: boolean;
}

declare module "vitest" {
  export interface ProvidedContext {
    s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
    store: StoreFacts;
  }
}
