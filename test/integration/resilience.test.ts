/**
 * Resilience under injected faults, against the real S3 server: a fault-injecting TCP proxy
 * (resets before and in the middle of responses, stalls, refused connections) and SDK
 * middleware answering 503 SlowDown / 500 on chosen requests.
 */
import { randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import type { Checkpoint } from "@langchain/langgraph-checkpoint";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitOpenError, S3Checkpointer, type Logger } from "../../src/index.js";
import { FaultProxy, type Fate } from "../helpers/fault-proxy.js";
import { proxiedClient, proxyTarget } from "../helpers/faulty-client.js";
import { createBucket, dropBucket, testClient, uniqueBucket } from "../helpers/s3.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";

const direct = testClient();
const bucket = uniqueBucket("res");
beforeAll(() => createBucket(direct, bucket, false));
afterAll(() => dropBucket(direct, bucket));

const cp = (values: Record<string, unknown>, version: string | number = "1"): Checkpoint =>
  checkpointOf(values, version);

function captureLogger() {
  const lines: { level: string; msg?: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => lines.push({ level, msg, obj });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

describe("faults at the connection", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = new FaultProxy(proxyTarget());
    await proxy.start();
  });
  afterAll(() => proxy?.stop());

  it("retries resets, torn responses, stalls and refused connections, and succeeds", async () => {
    const fates: Fate[] = ["reset", "reset-mid-response", "stall"];
    const saver = new S3Checkpointer({
      bucket,
      client: proxiedClient(proxy),
      prefix: `res/${randomUUID()}/`,
      resilience: { maxAttempts: 6, initialDelayMs: 50, maxDelayMs: 400, attemptTimeoutMs: 800, breaker: false },
    });
    await saver.setup();
    for (const fate of fates) {
      let used = false;
      proxy.decide = () => (used ? "pass" : ((used = true), fate));
      const config = await saver.put({ configurable: { thread_id: fate } }, cp({ fate }), meta, { fate: "1" });
      proxy.decide = () => (used ? "pass" : ((used = true), fate));
      used = false;
      const fresh = new S3Checkpointer({
        bucket,
        client: proxiedClient(proxy),
        prefix: saver.options.prefix,
        resilience: { attemptTimeoutMs: 800, initialDelayMs: 10 },
      });
      expect((await fresh.getTuple(config))?.checkpoint.channel_values).toEqual({ fate });
    }
    // the stalled request was really aborted: the client closed the connection, not the proxy
    expect(proxy.counts.stallAbortedByClient).toBeGreaterThanOrEqual(1);
    // refused: the proxy is down for a moment
    await proxy.stop();
    setTimeout(() => void proxy.start(), 100);
    const config = await saver.put({ configurable: { thread_id: "refused" } }, cp({ x: 1 }), meta, { x: "1" });
    expect((await saver.getTuple(config))?.checkpoint.channel_values).toEqual({ x: 1 });
    const text = await saver.metrics.registry!.metrics();
    // the first request after the outage is the new thread's tombstone read, or its write
    expect(text).toMatch(/langgraph_s3_s3_retries_total\{command="(PutObject|GetObject)"\} [1-9]/);
  });
});

describe("circuit breaker", () => {
  it("opens after the configured failures, fails fast while open, closes after a success", async () => {
    let failing = true;
    const client = testClient();
    client.middlewareStack.add(
      (next) => async (args) => {
        if (failing)
          throw Object.assign(new Error("down"), { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } });
        return next(args);
      },
      { step: "finalizeRequest", name: "outage" },
    );
    const { logger, lines } = captureLogger();
    const registry = new Registry();
    const saver = new S3Checkpointer({
      bucket,
      client,
      logger,
      metrics: { registry },
      prefix: `breaker/${randomUUID()}/`,
      // a latest read sends two requests at once (the listing and the thread's tombstone)
      resilience: { maxAttempts: 1, breaker: { consecutiveFailures: 4, halfOpenAfterMs: 300 } },
    });
    const gauge = async () => (await registry.getSingleMetric("langgraph_s3_circuit_state")!.get()).values[0]!.value;
    const attempt = () => saver.getTuple({ configurable: { thread_id: "t" } });
    for (let i = 0; i < 2; i += 1) await expect(attempt()).rejects.toThrow(/503|ServiceUnavailable/);
    expect(await gauge()).toBe(1);
    const started = performance.now();
    await expect(attempt()).rejects.toThrow(CircuitOpenError);
    expect(performance.now() - started).toBeLessThan(100); // failed fast, nothing sent
    failing = false;
    await new Promise((r) => setTimeout(r, 350));
    // half-open lets one trial request through; the read's second request may be refused while
    // the trial is out, so the first read after the pause may still fail fast
    await attempt().catch((e: unknown) => expect(e).toBeInstanceOf(CircuitOpenError));
    expect(await attempt()).toBeUndefined(); // the trial request passed: closed again
    expect(await gauge()).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/langgraph_s3_circuit_breaks_total 1/);
    const changes = lines.filter((l) => /circuit breaker/.test(l.msg ?? "")).map((l) => l.obj.state);
    expect(changes).toEqual(["open", "half-open", "closed"]);
    expect(lines.some((l) => l.level === "error" && l.msg === "S3 request failed")).toBe(true);
  });
});

describe("multipart uploads", () => {
  it("a failed multipart upload is aborted: no parts are left behind", async () => {
    const client = testClient();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "UploadPartCommand")
          throw Object.assign(new Error("part refused"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
        return next(args);
      },
      { step: "initialize", name: "failParts" },
    );
    const saver = new S3Checkpointer({
      bucket,
      client,
      prefix: `mpu/${randomUUID()}/`,
      multipartThresholdBytes: 5 * 1024 * 1024,
      multipartPartSizeBytes: 5 * 1024 * 1024,
      compression: { codec: "none" },
    });
    await saver.setup();
    const big = "y".repeat(12 * 1024 * 1024);
    await expect(saver.put({ configurable: { thread_id: "mpu" } }, cp({ big }), meta, { big: "1" })).rejects.toThrow();
    const uploads = await direct.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: saver.options.prefix }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await saver.getTuple({ configurable: { thread_id: "mpu" } })).toBeUndefined();
  });
});

describe("metrics", () => {
  it("exposes every documented series with its labels, and two checkpointers share a registry", async () => {
    const registry = new Registry();
    const a = new S3Checkpointer({ bucket, client: direct, metrics: { registry }, prefix: `m/${randomUUID()}/` });
    const b = new S3Checkpointer({ bucket, client: direct, metrics: { registry }, prefix: `m/${randomUUID()}/` });
    await a.setup();
    const config = await a.put({ configurable: { thread_id: "m" } }, cp({ v: "x".repeat(1000) }), meta, { v: "1" });
    await a.putWrites(config, [["v", 1]], "task");
    await b.getTuple(config);
    const text = await registry.metrics();
    for (const series of [
      /langgraph_s3_operations_total\{operation="put",outcome="success"\} 1/,
      /langgraph_s3_operation_duration_seconds_bucket\{le="[^"]+",operation="getTuple"\}/,
      /langgraph_s3_s3_requests_total\{command="PutObject",status="200"\} \d+/,
      // b has not probed the bucket, so it lists versions (immutability.ts)
      /langgraph_s3_s3_requests_total\{command="ListObject(sV2|Versions)",status="200"\} \d+/,
      /langgraph_s3_s3_round_trips_total \d+/,
      /langgraph_s3_s3_written_bytes_total \d+/,
      /langgraph_s3_s3_read_bytes_total \d+/,
      /langgraph_s3_compression_ratio_bucket\{le="[^"]+"\} \d+/,
      /# TYPE langgraph_s3_s3_retries_total counter/,
      /langgraph_s3_circuit_state 0/,
      /langgraph_s3_circuit_breaks_total 0/,
    ]) {
      expect(text).toMatch(series);
    }
    expect(new S3Checkpointer({ bucket, client: direct, metrics: false }).metrics.registry).toBeUndefined();
  });

  it("warns about slow operations, with no state in the log line", async () => {
    const { logger, lines } = captureLogger();
    const saver = new S3Checkpointer({
      bucket,
      client: direct,
      logger,
      slowOperationMs: 1,
      prefix: `slow/${randomUUID()}/`,
    });
    await saver.put({ configurable: { thread_id: "s" } }, cp({ secret: "do-not-log-me" }), meta, { secret: "1" });
    const slow = lines.find((l) => l.msg === "slow checkpointer operation");
    expect(slow?.obj).toMatchObject({ operation: "put", outcome: "success" });
    expect(JSON.stringify(lines)).not.toContain("do-not-log-me");
  });
});
