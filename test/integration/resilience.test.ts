/**
 * Resilience under injected faults, against the real S3 server: a fault-injecting TCP proxy
 * (resets before and in the middle of responses, stalls, refused connections) and SDK
 * middleware answering 503 SlowDown / 500 on chosen requests.
 */
import http from "node:http";
import { randomUUID } from "node:crypto";
import { ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CircuitOpenError, S3Checkpointer, createClient, type Logger } from "../../src/index.js";
import { FaultProxy, type Fate } from "../helpers/fault-proxy.js";
import { createBucket, dropBucket, s3Config, testClient, uniqueBucket } from "../helpers/s3.js";

const direct = testClient();
const bucket = uniqueBucket("res");
beforeAll(() => createBucket(direct, bucket, false));
afterAll(() => dropBucket(direct, bucket));

const meta = { source: "loop" as const, step: 0, parents: {} };
const cp = (values: Record<string, unknown>, version: string | number = "1"): Checkpoint => ({
  ...emptyCheckpoint(),
  id: uuid6(-1),
  channel_values: values,
  channel_versions: Object.fromEntries(Object.keys(values).map((k) => [k, version])),
});

function captureLogger() {
  const lines: { level: string; msg?: string; obj: Record<string, unknown> }[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => lines.push({ level, msg, obj });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

/** A client through the proxy, one connection per request, with optional fault middleware. */
function proxiedClient(proxy: FaultProxy, inject?: (command: string) => "503-before" | "500-after" | undefined) {
  const client = createClient({
    ...s3Config(),
    endpoint: proxy.endpoint,
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: false }), connectionTimeout: 2000 }),
  });
  if (inject) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fault = inject(String(context.commandName));
        if (fault === "503-before") {
          throw Object.assign(new Error("Please reduce your request rate."), {
            name: "SlowDown",
            $metadata: { httpStatusCode: 503 },
            $response: { statusCode: 503, headers: { "retry-after": "0" } },
          });
        }
        const result = await next(args);
        // the server did the work; the client is told it failed
        if (fault === "500-after") throw Object.assign(new Error("We encountered an internal error."), { name: "InternalError", $metadata: { httpStatusCode: 500 } });
        return result;
      },
      { step: "finalizeRequest", name: "injectFaults", priority: "high" },
    );
  }
  return client;
}

function target() {
  const url = new URL(s3Config().endpoint);
  return { host: url.hostname, port: Number(url.port) };
}

describe("faults at the connection", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = new FaultProxy(target());
    await proxy.start();
  });
  afterAll(() => proxy.stop());

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
      const fresh = new S3Checkpointer({ bucket, client: proxiedClient(proxy), prefix: saver.options.prefix, resilience: { attemptTimeoutMs: 800, initialDelayMs: 10 } });
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
    expect(text).toMatch(/langgraph_s3_s3_retries_total\{command="PutObject"\} [1-9]/);
  });
});

describe("soak: 10,000 operations, 50 threads, about 10% of requests faulted", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = new FaultProxy(target(), () => {
      const r = Math.random();
      return r < 0.025 ? "reset" : r < 0.045 ? "reset-mid-response" : r < 0.047 ? "stall" : "pass";
    });
    await proxy.start();
  });
  afterAll(() => proxy.stop());

  it("every resolved put is readable and byte-equal; every rejected one absent or complete", async () => {
    const injected = { "503-before": 0, "500-after": 0 };
    const client = proxiedClient(proxy, () => {
      const r = Math.random();
      const fault = r < 0.03 ? "503-before" : r < 0.055 ? "500-after" : undefined;
      if (fault) injected[fault] += 1;
      return fault;
    });
    const saver = new S3Checkpointer({
      bucket,
      client,
      prefix: `soak/${randomUUID()}/`,
      inlineThresholdBytes: 2048,
      resilience: { maxAttempts: 6, initialDelayMs: 5, maxDelayMs: 100, attemptTimeoutMs: 1000, breaker: false },
    });
    await saver.setup();
    const puts: { config: { configurable: Record<string, unknown> }; values: Record<string, unknown>; ok: boolean }[] = [];
    let ops = 0;
    let failedOps = 0;
    const errors: Record<string, number> = {};
    const TARGET = Number(process.env.SOAK_OPERATIONS ?? 10_000);
    await Promise.all(
      Array.from({ length: 50 }, async (_v, t) => {
        const thread = `soak-${t}`;
        let parent: { configurable: Record<string, unknown> } = { configurable: { thread_id: thread, checkpoint_ns: "" } };
        let version: number | undefined;
        for (let i = 0; ops < TARGET; i += 1) {
          const values = { step: i, thread, blob: i % 7 === 0 ? "x".repeat(4000) + i : `small-${i}` };
          // a new version per put, as LangGraph mints them: (channel, version) keys never repeat
          version = saver.getNextVersion(version);
          const checkpoint = cp(values, version);
          const config = { configurable: { thread_id: thread, checkpoint_ns: "", checkpoint_id: checkpoint.id } };
          ops += 1;
          try {
            const next = await saver.put(parent, checkpoint, meta, { ...checkpoint.channel_versions });
            puts.push({ config, values, ok: true });
            parent = next as typeof parent;
          } catch (e) {
            puts.push({ config, values, ok: false });
            failedOps += 1;
            const why = `${(e as Error).name}: ${(e as Error).message.slice(0, 120)}`;
            errors[why] = (errors[why] ?? 0) + 1;
          }
          ops += 1;
          await saver.putWrites(parent, [["step", i]], `task-${i}`).catch(() => (failedOps += 1));
          ops += 1;
          await saver.getTuple({ configurable: { thread_id: thread, checkpoint_ns: "" } }).catch(() => (failedOps += 1));
        }
      }),
    );
    // and puts with no retries at all: some are rejected, after or before the server wrote them
    const once = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix, resilience: { maxAttempts: 1, breaker: false } });
    await Promise.all(
      Array.from({ length: 300 }, async (_v, i) => {
        const values = { once: i };
        const checkpoint = cp(values, once.getNextVersion(undefined));
        const config = { configurable: { thread_id: `once-${i % 10}`, checkpoint_ns: "", checkpoint_id: checkpoint.id } };
        const ok = await once.put({ configurable: { thread_id: `once-${i % 10}` } }, checkpoint, meta, { ...checkpoint.channel_versions }).then(
          () => true,
          () => false,
        );
        puts.push({ config, values, ok });
      }),
    );
    // verify through a clean, fault-free checkpointer (no cache)
    const checker = new S3Checkpointer({ bucket, client: direct, prefix: saver.options.prefix });
    let readable = 0;
    let rejectedAbsent = 0;
    let rejectedComplete = 0;
    for (let i = 0; i < puts.length; i += 100) {
      await Promise.all(
        puts.slice(i, i + 100).map(async (p) => {
          const tuple = await checker.getTuple(p.config);
          if (p.ok) {
            expect(tuple?.checkpoint.channel_values).toEqual(p.values);
            readable += 1;
          } else if (tuple === undefined) rejectedAbsent += 1;
          else {
            expect(tuple.checkpoint.channel_values).toEqual(p.values);
            rejectedComplete += 1;
          }
        }),
      );
    }
    const text = await saver.metrics.registry!.metrics();
    const sum = (name: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith(name))
        .reduce((s, l) => s + Number(l.split(" ").pop()), 0);
    const summary = {
      operations: ops,
      failedOperations: failedOps,
      puts: puts.length,
      readable,
      rejectedAbsent,
      rejectedComplete,
      requests: sum("langgraph_s3_s3_requests_total"),
      retries: sum("langgraph_s3_s3_retries_total"),
      proxyFaults: proxy.counts,
      middlewareFaults: injected,
      errors,
    };
    console.log("soak:", JSON.stringify(summary));
    expect(ops).toBeGreaterThanOrEqual(TARGET);
    expect(readable + rejectedAbsent + rejectedComplete).toBe(puts.length);
    expect(rejectedAbsent + rejectedComplete).toBeGreaterThan(0);
    // with 6 attempts a request fails only after 6 faults in a row: practically never
    expect(Object.keys(errors)).toEqual([]);
    expect(summary.retries).toBeGreaterThan(0.05 * summary.requests);
  }, 600_000);
});

describe("circuit breaker", () => {
  it("opens after the configured failures, fails fast while open, closes after a success", async () => {
    let failing = true;
    const client = testClient();
    client.middlewareStack.add(
      (next) => async (args) => {
        if (failing) throw Object.assign(new Error("down"), { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } });
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
      resilience: { maxAttempts: 1, breaker: { consecutiveFailures: 3, halfOpenAfterMs: 300 } },
    });
    const gauge = async () => (await registry.getSingleMetric("langgraph_s3_circuit_state")!.get()).values[0]!.value;
    const attempt = () => saver.getTuple({ configurable: { thread_id: "t" } });
    for (let i = 0; i < 3; i += 1) await expect(attempt()).rejects.toThrow(/503|ServiceUnavailable/);
    expect(await gauge()).toBe(1);
    const started = performance.now();
    await expect(attempt()).rejects.toThrow(CircuitOpenError);
    expect(performance.now() - started).toBeLessThan(100); // failed fast, nothing sent
    failing = false;
    await new Promise((r) => setTimeout(r, 350));
    expect(await attempt()).toBeUndefined(); // the trial request passes: closed again
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
        if (context.commandName === "UploadPartCommand") throw Object.assign(new Error("part refused"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
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
    const uploads = await direct.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: saver.options.prefix }));
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
      /langgraph_s3_s3_requests_total\{command="ListObjectsV2",status="200"\} \d+/,
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
    const saver = new S3Checkpointer({ bucket, client: direct, logger, slowOperationMs: 1, prefix: `slow/${randomUUID()}/` });
    await saver.put({ configurable: { thread_id: "s" } }, cp({ secret: "do-not-log-me" }), meta, { secret: "1" });
    const slow = lines.find((l) => l.msg === "slow checkpointer operation");
    expect(slow?.obj).toMatchObject({ operation: "put", outcome: "success" });
    expect(JSON.stringify(lines)).not.toContain("do-not-log-me");
  });
});
