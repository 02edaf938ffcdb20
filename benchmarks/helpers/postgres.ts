/**
 * PostgreSQL for the comparison benchmark: Debian's server on a free port of 127.0.0.1 (so a
 * delay proxy can stand in front of it, as in front of S3), stopped when the benchmark ends,
 * also when it fails or is interrupted.
 */
import net from "node:net";
import { postgresBin, startPostgres, type LocalPostgres } from "../../test/helpers/postgres.js";

export { postgresBin };

/** A TCP port of 127.0.0.1 that nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts a throwaway server on a free port and arranges for it to stop on exit, on SIGINT and
 * SIGTERM (the local S3 script stops its command with SIGTERM when the gateway dies) and on an
 * uncaught error. A port can be taken between the probe and the start: then it tries another.
 */
export async function startBenchmarkPostgres(): Promise<LocalPostgres & { port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    let server: LocalPostgres;
    try {
      server = startPostgres({ port });
    } catch (error) {
      lastError = error;
      continue;
    }
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      server.stop();
    };
    // `exit` listeners run synchronously: pg_ctl stop is a synchronous child process, so it runs
    process.once("exit", stop);
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        stop();
        process.exit(128 + (signal === "SIGINT" ? 2 : 15));
      });
    }
    return { ...server, port, stop };
  }
  throw lastError;
}
