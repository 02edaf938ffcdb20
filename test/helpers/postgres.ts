/**
 * A throwaway PostgreSQL server from Debian's `postgresql` package for the migration tests: its
 * own data directory, trust authentication, and no TCP port at all (a Unix socket in that
 * directory), stopped and removed after. Postgres refuses to run as root, so as root it runs as
 * the package's `postgres` user.
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
  /** a connection string for node-postgres: the socket directory as `host` */
  url: string;
  stop(): void;
}

export function startPostgres(): LocalPostgres {
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
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  run("pg_ctl", [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-o",
    `-c listen_addresses='' -c unix_socket_directories=${dir} -c fsync=off`,
    "start",
  ]);
  return {
    url: `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}`,
    stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
