/**
 * Prometheus metrics (prom-client). Metrics go to the registry the caller passes, or to a private
 * registry of the instance: never to prom-client's global registry unless it is passed in. Two
 * checkpointers on one registry share the series (looked up with `getSingleMetric`) instead of
 * throwing on duplicate registration.
 */

import { Counter, Gauge, Histogram, Registry, type Metric } from "prom-client";

export interface MetricsOptions {
  /** Registry to register into. @default a new private `Registry` per checkpointer */
  registry?: Registry;
  /** Prefix of every metric name. @default "langgraph_s3_" */
  prefix?: string;
}

/** Metric names without the prefix. Units in the names: `_seconds`, `_bytes`, `_total` on counters. */
export const METRIC = {
  operations: "operations_total",
  operationDuration: "operation_duration_seconds",
  s3Requests: "s3_requests_total",
  s3RoundTrips: "s3_round_trips_total",
  bytesWritten: "s3_written_bytes_total",
  bytesRead: "s3_read_bytes_total",
  compressionRatio: "compression_ratio",
  retries: "s3_retries_total",
  circuitState: "circuit_state",
  circuitBreaks: "circuit_breaks_total",
  sharesCreated: "shares_created_total",
  sharesRevoked: "shares_revoked_total",
} as const;

/** The metrics the library records. All methods are no-ops when metrics are off. */
export interface CheckpointerMetrics {
  readonly registry: Registry | undefined;
  readonly prefix: string;
  s3Request(command: string, status: number | string): void;
  roundTrip(): void;
  bytesWritten(bytes: number): void;
  bytesRead(bytes: number): void;
  compression(plaintextBytes: number, storedBytes: number): void;
  retry(command: string): void;
  /** Circuit breaker state: gauge 0 closed, 1 open, 2 half-open; a change to open counts a break. */
  circuit(state: "closed" | "open" | "half-open"): void;
  /** A share was created (share.ts). */
  shareCreated(): void;
  /** A share was revoked: its bundle deleted. */
  shareRevoked(): void;
  /** Starts timing an operation; call the result with its outcome. */
  operation(name: string): (outcome: "success" | "error") => void;
}

function reuse<T extends Metric<string>>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export function createMetrics(options: MetricsOptions | false | undefined): CheckpointerMetrics {
  if (options === false) {
    return {
      registry: undefined,
      prefix: "",
      s3Request() {},
      roundTrip() {},
      bytesWritten() {},
      bytesRead() {},
      compression() {},
      retry() {},
      circuit() {},
      shareCreated() {},
      shareRevoked() {},
      operation: () => () => {},
    };
  }
  const registry = options?.registry ?? new Registry();
  const prefix = options?.prefix ?? "langgraph_s3_";
  const registers = [registry];
  const n = (name: string) => `${prefix}${name}`;

  const operations = reuse(
    registry,
    n(METRIC.operations),
    () =>
      new Counter({
        name: n(METRIC.operations),
        help: "Checkpointer operations by name and outcome",
        labelNames: ["operation", "outcome"],
        registers,
      }),
  );
  const duration = reuse(
    registry,
    n(METRIC.operationDuration),
    () =>
      new Histogram({
        name: n(METRIC.operationDuration),
        help: "Duration of checkpointer operations",
        labelNames: ["operation"],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
  );
  const requests = reuse(
    registry,
    n(METRIC.s3Requests),
    () =>
      new Counter({
        name: n(METRIC.s3Requests),
        help: "HTTP requests sent to S3 (every attempt), by command and HTTP status",
        labelNames: ["command", "status"],
        registers,
      }),
  );
  const roundTrips = reuse(
    registry,
    n(METRIC.s3RoundTrips),
    () =>
      new Counter({
        name: n(METRIC.s3RoundTrips),
        help: "Sequential S3 round trips: times the number of requests in flight rose from 0 to 1",
        registers,
      }),
  );
  const written = reuse(
    registry,
    n(METRIC.bytesWritten),
    () => new Counter({ name: n(METRIC.bytesWritten), help: "Object bytes written to S3", registers }),
  );
  const read = reuse(
    registry,
    n(METRIC.bytesRead),
    () => new Counter({ name: n(METRIC.bytesRead), help: "Object bytes read from S3", registers }),
  );
  const ratio = reuse(
    registry,
    n(METRIC.compressionRatio),
    () =>
      new Histogram({
        name: n(METRIC.compressionRatio),
        help: "Plaintext bytes divided by stored bytes, per object written",
        buckets: [0.5, 1, 1.5, 2, 3, 5, 10, 20, 50],
        registers,
      }),
  );

  const retries = reuse(
    registry,
    n(METRIC.retries),
    () =>
      new Counter({
        name: n(METRIC.retries),
        help: "S3 requests sent again after a retryable failure, by command",
        labelNames: ["command"],
        registers,
      }),
  );
  const circuit = reuse(
    registry,
    n(METRIC.circuitState),
    () =>
      new Gauge({
        name: n(METRIC.circuitState),
        help: "Circuit breaker state: 0 closed, 1 open, 2 half-open",
        registers,
      }),
  );
  const breaks = reuse(
    registry,
    n(METRIC.circuitBreaks),
    () => new Counter({ name: n(METRIC.circuitBreaks), help: "Times the circuit breaker opened", registers }),
  );
  const sharesCreated = reuse(
    registry,
    n(METRIC.sharesCreated),
    () =>
      new Counter({
        name: n(METRIC.sharesCreated),
        help: "Shares created: bundles written behind a presigned URL",
        registers,
      }),
  );
  const sharesRevoked = reuse(
    registry,
    n(METRIC.sharesRevoked),
    () =>
      new Counter({
        name: n(METRIC.sharesRevoked),
        help: "Shares revoked: bundles deleted before their URL expired",
        registers,
      }),
  );
  circuit.set(0);

  return {
    registry,
    prefix,
    retry: (command) => retries.inc({ command }),
    circuit: (state) => {
      circuit.set(state === "closed" ? 0 : state === "open" ? 1 : 2);
      if (state === "open") breaks.inc();
    },
    shareCreated: () => sharesCreated.inc(),
    shareRevoked: () => sharesRevoked.inc(),
    s3Request: (command, status) => requests.inc({ command, status: String(status) }),
    roundTrip: () => roundTrips.inc(),
    bytesWritten: (bytes) => written.inc(bytes),
    bytesRead: (bytes) => read.inc(bytes),
    compression: (plain, stored) => {
      if (stored > 0) ratio.observe(plain / stored);
    },
    operation: (name) => {
      const end = duration.startTimer({ operation: name });
      return (outcome) => {
        end();
        operations.inc({ operation: name, outcome });
      };
    },
  };
}
