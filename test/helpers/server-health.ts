/**
 * Runs before every integration test: when the S3 server stops answering in the middle of a run
 * (a crashed local gateway), every later test fails at once with one message that says so and
 * where the server's log is, instead of each one waiting for its retries and ending in
 * ECONNREFUSED. The cleanup helpers skip their work once the server is gone.
 */
import net from "node:net";
import { beforeEach, inject } from "vitest";

let lost: string | undefined;

/** Why the S3 server is considered gone, once a health check has failed. */
export function serverLost(): string | undefined {
  return lost;
}

/** A TCP connection to the server: resolves with the error code when it cannot be made. */
function connectError(endpoint: string): Promise<string | undefined> {
  const url = new URL(endpoint);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return new Promise((resolve) => {
    const socket = net.connect({ host: url.hostname, port, timeout: 5000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

beforeEach(async () => {
  if (lost === undefined) {
    const { endpoint } = inject("s3");
    const code = await connectError(endpoint);
    if (code !== undefined) {
      // set by scripts/local-s3.sh, which keeps a copy of its logs in `${dir}.failed` after a failed run
      const log = process.env.LOCAL_S3_LOG;
      const kept = log?.replace(/\/log\/client\.rgw\.log$/, ".failed/log/client.rgw.log");
      lost =
        `The S3 server at ${endpoint} stopped answering (${code}) during the run; no later test can pass.` +
        (log ? ` The local server's log: ${log} (after the run: ${kept}).` : "");
    }
  }
  if (lost !== undefined) throw new Error(lost);
});
