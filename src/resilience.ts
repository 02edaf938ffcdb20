/**
 * The one cockatiel policy every S3 request of a checkpointer runs under, built once per
 * instance: an operation timeout around retries (exponential backoff with decorrelated jitter,
 * `Retry-After` honoured, retryable failures only) around a circuit breaker around a per-attempt
 * timeout that aborts the HTTP request through its `AbortSignal`.
 */

import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type IBackoff,
  type IBackoffFactory,
  type IDisposable,
  type IRetryBackoffContext,
} from "cockatiel";
import { networkCodeOf, sdkErrorName, statusOf } from "./errors.js";

/** Longest delay a Node.js timer takes (2^31 − 1 ms); a larger one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface BreakerOptions {
  /** Failures in a row (after retries of one attempt chain are counted one by one) that open the circuit. @default 5 */
  consecutiveFailures?: number;
  /** How long the circuit stays open before one trial request may pass. @default 10000 */
  halfOpenAfterMs?: number;
}

export interface ResilienceOptions {
  /** Attempts per request, the first included; 1 turns retries off. @default 4 */
  maxAttempts?: number;
  /** First backoff delay. @default 100 */
  initialDelayMs?: number;
  /** Longest backoff delay (and the cap of a `Retry-After`). @default 5000 */
  maxDelayMs?: number;
  /** Time one attempt may take before its HTTP request is aborted and retried. @default 15000 */
  attemptTimeoutMs?: number;
  /** Time one request may take with all its attempts and delays. @default 60000 */
  operationTimeoutMs?: number;
  /** Circuit breaker, or `false` for none. */
  breaker?: BreakerOptions | false;
}

export interface ResolvedResilience {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly attemptTimeoutMs: number;
  readonly operationTimeoutMs: number;
  readonly breaker: Readonly<Required<BreakerOptions>> | false;
}

/**
 * cockatiel's errors carry a brand property, checked here. cockatiel 3.2's own
 * `isTaskCancelledError` tests for the bulkhead's brand (`isBulkheadRejectedError`) and so never
 * recognises a timeout; both guards also avoid `instanceof`, which fails across copies.
 */
export function isTaskCancelledError(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { isTaskCancelledError?: unknown }).isTaskCancelledError === true;
}

export function isBrokenCircuitError(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { isBrokenCircuitError?: unknown }).isBrokenCircuitError === true;
}

/** S3 error codes of throttling and passing trouble: again, later, will likely work. */
const RETRYABLE_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "RequestThrottled",
  "TooManyRequestsException",
]);
/** Never retried: the request was understood and refused; again will not help. */
const FINAL_STATUS = new Set([400, 401, 403, 404, 405, 409, 411, 412, 416]);
/** Messages of a connection that broke mid-response, from Node.js versions that set no code. */
const BROKEN_CONNECTION = /socket hang up|ECONNRESET|premature close/i;

/**
 * Retryable: 5xx, `SlowDown` and throttling, timeouts (an attempt's own timeout included),
 * connection resets and refusals. Never 400, 403, 404, 409 or 412.
 */
export function isRetryable(error: unknown): boolean {
  if (isBrokenCircuitError(error)) return false;
  if (isTaskCancelledError(error)) return true; // the attempt timeout fired
  const status = statusOf(error);
  if (status !== undefined && FINAL_STATUS.has(status)) return false;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  const name = sdkErrorName(error) ?? "";
  if (RETRYABLE_CODES.has(name)) return true;
  if (name === "TimeoutError" || name === "AbortError") return true;
  if (networkCodeOf(error) !== undefined) return true;
  for (let c: unknown = error, depth = 0; c && typeof c === "object" && depth < 4; depth += 1) {
    if (BROKEN_CONNECTION.test(String((c as { message?: unknown }).message ?? ""))) return true;
    c = (c as { cause?: unknown }).cause;
  }
  return false;
}

/** Seconds (or an HTTP date) of a `Retry-After` header, in milliseconds. */
export function retryAfterMs(error: unknown): number | undefined {
  const header = (error as { $response?: { headers?: Record<string, string> } } | undefined)?.$response?.headers?.[
    "retry-after"
  ];
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Exponential backoff with jitter that waits at least what a `Retry-After` asks (capped). */
class RetryAfterBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  constructor(
    private readonly inner: IBackoffFactory<unknown>,
    private readonly maxDelayMs: number,
  ) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const step = this.inner.next(context);
    const asked = "error" in context.result ? retryAfterMs(context.result.error) : undefined;
    const duration = asked === undefined ? step.duration : Math.min(this.maxDelayMs, Math.max(step.duration, asked));
    return Object.assign(new RetryAfterBackoff(step, this.maxDelayMs), { duration }) as unknown as IBackoff<
      IRetryBackoffContext<unknown>
    >;
  }
}

export type CircuitStateName = "closed" | "open" | "half-open";

export interface ResilienceEvents {
  onCircuitChange(state: CircuitStateName, cause?: unknown): void;
}

/** The composed policy: `execute(fn)` runs `fn(signal)` under it. */
export interface ResiliencePolicy {
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  dispose(): void;
}

export function createResiliencePolicy(settings: ResolvedResilience, events: ResilienceEvents): ResiliencePolicy {
  const retryable = handleWhen((e) => isRetryable(e));
  const retryPolicy = retry(retryable, {
    maxAttempts: settings.maxAttempts - 1,
    backoff: new RetryAfterBackoff(
      new ExponentialBackoff({ initialDelay: settings.initialDelayMs, maxDelay: settings.maxDelayMs }),
      settings.maxDelayMs,
    ),
  });
  // Aggressive: the attempt's promise rejects at once and its signal aborts the HTTP request
  const attemptTimeout = timeout(settings.attemptTimeoutMs, TimeoutStrategy.Aggressive);
  const operationTimeout = timeout(settings.operationTimeoutMs, TimeoutStrategy.Aggressive);
  const disposables: IDisposable[] = [];
  let policy;
  if (settings.breaker) {
    const breaker = circuitBreaker(retryable, {
      halfOpenAfter: settings.breaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(settings.breaker.consecutiveFailures),
    });
    disposables.push(
      breaker.onBreak((reason) => events.onCircuitChange("open", "error" in reason ? reason.error : undefined)),
      breaker.onHalfOpen(() => events.onCircuitChange("half-open")),
      breaker.onReset(() => events.onCircuitChange("closed")),
    );
    policy = wrap(operationTimeout, retryPolicy, breaker, attemptTimeout);
  } else {
    policy = wrap(operationTimeout, retryPolicy, attemptTimeout);
  }
  return {
    execute: (fn) => policy.execute(({ signal }) => fn(signal)),
    dispose: () => {
      for (const d of disposables) d.dispose();
    },
  };
}
