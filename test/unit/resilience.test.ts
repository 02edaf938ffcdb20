import { afterEach, describe, expect, it, vi } from "vitest";
import { InvalidOptionError } from "../../src/errors.js";
import { resolveResilience } from "../../src/options.js";
import { createResiliencePolicy, isRetryable, retryAfterMs } from "../../src/resilience.js";

const sdkError = (name: string, status?: number, extra: object = {}) =>
  Object.assign(new Error(name), { name, $metadata: status === undefined ? {} : { httpStatusCode: status }, ...extra });

describe("isRetryable", () => {
  it("retries 5xx, throttling, timeouts and connection failures", () => {
    expect(isRetryable(sdkError("InternalError", 500))).toBe(true);
    expect(isRetryable(sdkError("SlowDown", 503))).toBe(true);
    expect(isRetryable(sdkError("ThrottlingException"))).toBe(true);
    expect(isRetryable(sdkError("TimeoutError"))).toBe(true);
    expect(isRetryable(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(true);
    expect(isRetryable(Object.assign(new Error("x"), { cause: { code: "ECONNREFUSED" } }))).toBe(true);
  });

  it("never retries answers: 400, 403, 404, 409, 412", () => {
    for (const [name, status] of [
      ["BadRequest", 400],
      ["AccessDenied", 403],
      ["NoSuchKey", 404],
      ["ConditionalRequestConflict", 409],
      ["PreconditionFailed", 412],
    ] as const) {
      expect(isRetryable(sdkError(name, status))).toBe(false);
    }
    expect(isRetryable(new Error("a bug"))).toBe(false);
  });

  it("reads Retry-After in seconds or as a date", () => {
    expect(retryAfterMs({ $response: { headers: { "retry-after": "2" } } })).toBe(2000);
    expect(
      retryAfterMs({ $response: { headers: { "retry-after": new Date(Date.now() + 5000).toUTCString() } } }),
    ).toBeGreaterThan(3000);
    expect(retryAfterMs(sdkError("SlowDown", 503))).toBeUndefined();
  });
});

describe("policy", () => {
  const quick = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 100, operationTimeoutMs: 2000 };

  it("retries a retryable failure and then succeeds", async () => {
    const policy = createResiliencePolicy(resolveResilience({ ...quick, breaker: false }), { onCircuitChange() {} });
    let calls = 0;
    const result = await policy.execute(async () => {
      calls += 1;
      if (calls < 3) throw sdkError("SlowDown", 503);
      return "ok";
    });
    expect([result, calls]).toEqual(["ok", 3]);
  });

  it("waits at least what a Retry-After asks, capped by maxDelayMs", async () => {
    const elapsedWith = async (maxDelayMs: number) => {
      const policy = createResiliencePolicy(resolveResilience({ ...quick, maxDelayMs, breaker: false }), {
        onCircuitChange() {},
      });
      let calls = 0;
      const started = performance.now();
      await policy.execute(async () => {
        calls += 1;
        if (calls === 1)
          throw sdkError("SlowDown", 503, { $response: { statusCode: 503, headers: { "retry-after": "0.3" } } });
        return "ok";
      });
      return performance.now() - started;
    };
    expect(await elapsedWith(1000)).toBeGreaterThanOrEqual(280);
    expect(await elapsedWith(5)).toBeLessThan(250);
  });

  it("does not retry a 404", async () => {
    const policy = createResiliencePolicy(resolveResilience({ ...quick, breaker: false }), { onCircuitChange() {} });
    let calls = 0;
    await expect(
      policy.execute(async () => {
        calls += 1;
        throw sdkError("NoSuchKey", 404);
      }),
    ).rejects.toThrow("NoSuchKey");
    expect(calls).toBe(1);
  });

  it("aborts a stalled attempt through its signal and retries", async () => {
    const policy = createResiliencePolicy(resolveResilience({ ...quick, breaker: false }), { onCircuitChange() {} });
    const aborted: boolean[] = [];
    let calls = 0;
    const result = await policy.execute(
      (signal) =>
        new Promise<string>((resolve) => {
          calls += 1;
          if (calls > 1) return resolve("second attempt");
          signal.addEventListener("abort", () => aborted.push(true));
        }),
    );
    expect(result).toBe("second attempt");
    expect(aborted).toEqual([true]);
  });

  it("opens the circuit after consecutive failures and reports each change", async () => {
    const changes: string[] = [];
    const policy = createResiliencePolicy(
      resolveResilience({ ...quick, maxAttempts: 1, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 50 } }),
      { onCircuitChange: (s) => changes.push(s) },
    );
    const fail = () => policy.execute(async () => Promise.reject(sdkError("InternalError", 500)));
    await expect(fail()).rejects.toThrow();
    await expect(fail()).rejects.toThrow();
    let ran = false;
    await expect(policy.execute(async () => ((ran = true), "x"))).rejects.toThrow(/open|broken/i);
    expect(ran).toBe(false);
    await new Promise((r) => setTimeout(r, 80));
    expect(await policy.execute(async () => "recovered")).toBe("recovered");
    expect(changes).toEqual(["open", "half-open", "closed"]);
    policy.dispose();
  });

  describe("on fake timers: the default timings without waiting for them", () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it("the circuit stays open until halfOpenAfterMs (10 s by default) has passed, not a moment less", async () => {
      vi.useFakeTimers();
      const changes: string[] = [];
      const policy = createResiliencePolicy(resolveResilience({ maxAttempts: 1 }), {
        onCircuitChange: (s) => changes.push(s),
      });
      for (let i = 0; i < 5; i += 1)
        await expect(policy.execute(async () => Promise.reject(sdkError("InternalError", 500)))).rejects.toThrow();
      expect(changes).toEqual(["open"]);
      await vi.advanceTimersByTimeAsync(9_999);
      await expect(policy.execute(async () => "too early")).rejects.toThrow(/open|broken/i);
      await vi.advanceTimersByTimeAsync(1);
      expect(await policy.execute(async () => "on time")).toBe("on time");
      expect(changes).toEqual(["open", "half-open", "closed"]);
      policy.dispose();
    });

    it("an attempt that never answers is abandoned after attemptTimeoutMs (15 s by default), then retried", async () => {
      vi.useFakeTimers();
      const policy = createResiliencePolicy(resolveResilience({ breaker: false }), { onCircuitChange() {} });
      const attempts: number[] = [];
      const result = policy.execute(
        (signal) =>
          new Promise<string>((resolve, reject) => {
            attempts.push(Date.now());
            if (attempts.length > 1) return resolve("second");
            signal.addEventListener("abort", () => reject(Object.assign(new Error("aborted"), { name: "AbortError" })));
          }),
      );
      await vi.advanceTimersByTimeAsync(14_999);
      expect(attempts).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1 + 5_000); // the timeout, then at most maxDelayMs of backoff
      expect(await result).toBe("second");
      expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(15_000);
      policy.dispose();
    });
  });

  it("validates its options with their names", () => {
    expect(() => resolveResilience({ maxAttempts: 0 })).toThrow(InvalidOptionError);
    expect(() => resolveResilience({ breaker: { consecutiveFailures: -1 } })).toThrow(/breaker.consecutiveFailures/);
    expect(resolveResilience(undefined)).toMatchObject({ maxAttempts: 4, breaker: { consecutiveFailures: 5 } });
  });
});
