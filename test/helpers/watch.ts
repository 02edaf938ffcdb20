/** Watching a call: its time, the longest the event loop went without a turn, the RSS it grew. */

export interface Watched<T> {
  /** what the call resolved to */
  result?: T;
  /** what it rejected with */
  error?: unknown;
  ms: number;
  /** longest time the event loop went without running a 5 ms interval */
  maxLagMs: number;
  /** growth of the resident set over its value at the start, sampled every 5 ms */
  rssGrowthBytes: number;
}

/**
 * Runs `call`, timing it while an interval of 5 ms samples the event loop's turns and the
 * resident set: a call that holds the event loop shows as a long gap between two turns.
 *
 * @example
 * ```ts
 * const { error, maxLagMs } = await watch(() => open(body, { key }));
 * ```
 */
export async function watch<T>(call: () => Promise<T>): Promise<Watched<T>> {
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  let last = performance.now();
  let maxLagMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last);
    last = now;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 5);
  const started = performance.now();
  const outcome = await call().then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const ms = performance.now() - started;
  clearInterval(ticker);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return { ...outcome, ms, maxLagMs: Math.max(maxLagMs, performance.now() - last), rssGrowthBytes: peakRss - baseRss };
}
