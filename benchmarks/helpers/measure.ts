/** Medians, ratios and the process's peak memory, for the benchmarks. */
import { readFileSync, writeFileSync } from "node:fs";

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** `a / b` as `1.23×`, or `—` when there is nothing to compare. */
export const ratio = (a: number | undefined, b: number | undefined): string =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0
    ? "—"
    : `${(a / b).toFixed(2)}×`;

/** The process's peak RSS since the last reset (Linux: VmHWM), or `undefined` elsewhere. */
function peakRssBytes(): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn`: its time and the growth of the process's peak RSS over its RSS at the start, in MiB.
 * On Linux the kernel's own high-water mark is reset first and read after (exact, also while a
 * synchronous step holds the event loop); elsewhere RSS is sampled every 10 ms.
 */
export async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; rssMiB: number }> {
  global.gc?.();
  let exact = false;
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    exact = peakRssBytes() !== undefined;
  } catch {
    // not Linux: sampled below
  }
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const started = performance.now();
  const result = await fn();
  const ms = performance.now() - started;
  clearInterval(timer);
  peak = exact ? peakRssBytes()! : Math.max(peak, process.memoryUsage().rss);
  return { result, ms, rssMiB: (peak - base) / 1024 / 1024 };
}
