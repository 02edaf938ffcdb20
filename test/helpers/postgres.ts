/**
 * A throwaway PostgreSQL server from Debian's `postgresql` package for the migration tests and
 * the benchmarks: its own data directory, trust authentication, and by default no TCP port at all
 * (a Unix socket in that directory; `port` listens on 127.0.0.1 instead), stopped and removed
 * after. Postgres refuses to run as root, so as root it runs as the package's `postgres` user.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const DEBIAN_ROOT = "/usr/lib/postgresql";

/** The bin directory of the newest installed Debian PostgreSQL, or `undefined`. */
export function postgresBin(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((v) => existsSync(join(DEBIAN_ROOT, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(DEBIAN_ROOT, versions[0], "bin");
}

export interface LocalPostgres {
  /** a connection string for node-postgres: the socket directory as `host`, or 127.0.0.1 and the port */
  url: string;
  /** the server's `SHOW server_version` as `postgres --version` prints it */
  version: string;
  stop(): void;
}

export interface StartPostgresOptions {
  /** a TCP port on 127.0.0.1 to listen on (as well as the socket); none by default */
  port?: number;
}

export function startPostgres(options: StartPostgresOptions = {}): LocalPostgres {
  const bin = postgresBin();
  if (!bin) throw new Error("Debian's postgresql is not installed (apt-get install postgresql)");
  const dir = mkdtempSync(join(tmpdir(), "lgs3-pg-"));
  const asRoot = process.getuid?.() === 0;
  const run = (tool: string, args: string[]) =>
    asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", join(bin, tool), ...args], { stdio: "pipe" })
      : execFileSync(join(bin, tool), args, { stdio: "pipe" });
  if (asRoot) execFileSync("chown", ["postgres:postgres", dir]);
  const data = join(dir, "data");
  const listen = options.port === undefined ? "" : "127.0.0.1";
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  try {
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      join(dir, "log"),
      "-w",
      "-o",
      `-c listen_addresses='${listen}' -c unix_socket_directories=${dir} -c fsync=off` +
        (options.port === undefined ? "" : ` -p ${options.port}`),
      "start",
    ]);
  } catch (error) {
    // a server that did not start (a port taken meanwhile) leaves nothing behind
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url:
      options.port === undefined
        ? `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}`
        : `postgresql://postgres@127.0.0.1:${options.port}/postgres`,
    version: execFileSync(join(bin, "postgres"), ["--version"], { encoding: "utf8" }).trim(),
    stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
