/** Options that once passed validation and failed later, or were silently ignored. */
import { describe, expect, it } from "vitest";
import { InvalidOptionError, S3Checkpointer } from "../../src/index.js";

const base = { bucket: "agent-state", clientConfig: { endpoint: "http://127.0.0.1:1", region: "us-east-1" } };
const make = (extra: Record<string, unknown>) => new S3Checkpointer({ ...base, ...extra } as never);

describe("options are checked at construction, naming the fix", () => {
  it.each([
    ["resilience.attemptTimeoutMs", { resilience: { attemptTimeoutMs: 2 ** 31 } }],
    ["resilience.operationTimeoutMs", { resilience: { operationTimeoutMs: 1e12 } }],
    ["resilience.maxDelayMs", { resilience: { maxDelayMs: Number.POSITIVE_INFINITY } }],
    ["slowOperationMs", { slowOperationMs: 2 ** 40 }],
    ["logger", { logger: {} }],
    ["logger", { logger: { info() {} } }],
    ["metrics.registry", { metrics: { registry: {} } }],
    ["metrics.prefix", { metrics: { prefix: "bad prefix" } }],
    ["serde", { serde: {} }],
    ["compression", { compression: 7 }],
    ["compression.codec", { compression: "gzip" }],
    ["maxObjectBytes", { maxObjectBytes: 0 }],
    ["bucket", { bucket: "no/slashes" }],
    ["bucket", { bucket: "a?b" }],
    ["bucket", { bucket: "x".repeat(256) }],
    ["bucket", { bucket: " padded " }],
  ])("%s", (name, extra) => {
    let error: unknown;
    try {
      make(extra);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toContain(name.split(".")[0]!);
  });

  it('compression: "none" is the codec "none", as README\'s table reads', () => {
    expect(make({ compression: "none" }).options.compression).toEqual({ codec: "none", level: 3 });
    expect(make({ compression: { codec: "zstd", level: 9 } }).options.compression).toEqual({ codec: "zstd", level: 9 });
  });

  it("inlineThresholdBytes defaults to 256 KiB, as README's table reads, and takes 0 (every value on its own)", () => {
    expect(make({}).options.inlineThresholdBytes).toBe(256 * 1024);
    expect(make({ inlineThresholdBytes: 0 }).options.inlineThresholdBytes).toBe(0);
  });

  it("accepts the largest timer and S3-compatible bucket names", () => {
    expect(() => make({ resilience: { attemptTimeoutMs: 2 ** 31 - 1 }, bucket: "Legacy_Bucket.v2" })).not.toThrow();
    expect(() => make({ bucket: "b" })).not.toThrow();
  });
});
