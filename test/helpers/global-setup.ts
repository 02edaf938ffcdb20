/**
 * Finds the S3 server for the integration tests: `S3_ENDPOINT` (+ keys) when set; otherwise
 * LocalStack through testcontainers when a Docker engine answers; otherwise it fails and says
 * what to run.
 */
import type { TestProject } from "vitest/node";

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

export async function setup(project: TestProject): Promise<void> {
  let endpoint = process.env.S3_ENDPOINT;
  let accessKeyId = process.env.S3_ACCESS_KEY_ID;
  let secretAccessKey = process.env.S3_SECRET_ACCESS_KEY;
  if (!endpoint) {
    if (!(await dockerAnswers())) {
      throw new Error(
        "No S3 server for the tests: S3_ENDPOINT is not set and no Docker engine answers.\n" +
          "Run the tests with a local S3 server:  npm run test:local\n" +
          "or start one and export its variables:  scripts/local-s3.sh start && eval \"$(scripts/local-s3.sh env)\"",
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
  project.provide("s3", { endpoint, accessKeyId: accessKeyId ?? "", secretAccessKey: secretAccessKey ?? "", region: process.env.S3_REGION ?? "us-east-1" });
}

export async function teardown(): Promise<void> {
  await stopContainer?.();
}

declare module "vitest" {
  export interface ProvidedContext {
    s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  }
}
