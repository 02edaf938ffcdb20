/**
 * Soak under faults (`npm run test:soak`): 10,000 checkpointer operations from 50 concurrent
 * threads through a fault-injecting TCP proxy and fault middleware, against the real S3 server.
 * Every put that resolved must be readable and equal; every rejected one absent or complete.
 */
import { randomUUID } from "node:crypto";
import type { Checkpoint } from "@langchain/langgraph-checkpoint";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Checkpointer } from "../../src/index.js";
import { FaultProxy } from "../helpers/fault-proxy.js";
import { proxiedClient, proxyTarget } from "../helpers/faulty-client.js";
import { createBucket, dropBucket, testClient, uniqueBucket } from "../helpers/s3.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";

const direct = testClient();
const bucket = uniqueBucket("soak");
beforeAll(() => createBucket(direct, bucket, false));
afterAll(() => dropBucket(direct, bucket));

const cp = (values: Record<string, unknown>, version: string | number = "1"): Checkpoint =>
  checkpointOf(values, version);

describe("soak: 10,000 operations, 50 threads, about 10% of requests faulted", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = new FaultProxy(proxyTarget(), () => {
      const r = Math.random();
      return r < 0.025 ? "reset" : r < 0.045 ? "reset-mid-response" : r < 0.047 ? "stall" : "pass";
    });
    await proxy.start();
  });
  afterAll(() => proxy?.stop());

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
      // 5 s per attempt: a stalled connection is cut after 5 s, and a busy 2-core machine that answers
      // late does not turn into timeouts (at 1 s, 6 late answers in a row failed a few puts there)
      resilience: { maxAttempts: 6, initialDelayMs: 5, maxDelayMs: 100, attemptTimeoutMs: 5000, breaker: false },
    });
    await saver.setup();
    const puts: { config: { configurable: Record<string, unknown> }; values: Record<string, unknown>; ok: boolean }[] =
      [];
    let ops = 0;
    let failedOps = 0;
    const errors: Record<string, number> = {};
    const TARGET = Number(process.env.SOAK_OPERATIONS ?? 10_000);
    await Promise.all(
      Array.from({ length: 50 }, async (_v, t) => {
        const thread = `soak-${t}`;
        let parent: { configurable: Record<string, unknown> } = {
          configurable: { thread_id: thread, checkpoint_ns: "" },
        };
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
          await saver
            .getTuple({ configurable: { thread_id: thread, checkpoint_ns: "" } })
            .catch(() => (failedOps += 1));
        }
      }),
    );
    // and puts with no retries at all: some are rejected, after or before the server wrote them
    const once = new S3Checkpointer({
      bucket,
      client,
      prefix: saver.options.prefix,
      resilience: { maxAttempts: 1, breaker: false },
    });
    await Promise.all(
      Array.from({ length: 300 }, async (_v, i) => {
        const values = { once: i };
        const checkpoint = cp(values, once.getNextVersion(undefined));
        const config = {
          configurable: { thread_id: `once-${i % 10}`, checkpoint_ns: "", checkpoint_id: checkpoint.id },
        };
        const ok = await once
          .put({ configurable: { thread_id: `once-${i % 10}` } }, checkpoint, meta, { ...checkpoint.channel_versions })
          .then(
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
    // ~490 s on a 2-core machine under load (load average ~10), beside the other soak test
  }, 1_200_000);
});
