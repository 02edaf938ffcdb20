/**
 * SqliteSaver on a database file for the comparison benchmark. better-sqlite3 is a native module
 * built for the Node that installed it: on another Node (the benchmark runs on two) it loads a
 * build named by `BETTER_SQLITE3_BINDING` (a `better_sqlite3.node` built for this Node), or the
 * saver is skipped with the reason, instead of failing the whole run.
 */
import { createRequire } from "node:module";
import { join } from "node:path";
import type { SqliteSaver } from "@langchain/langgraph-checkpoint-sqlite";

const require = createRequire(import.meta.url);

/** better-sqlite3's constructor, as far as used here (the package ships no types of its own). */
type Database = new (file: string, options?: { nativeBinding?: string }) => { close(): void };

export type SqliteOpener = (file: string) => SqliteSaver;

/**
 * A function that opens a SqliteSaver on a file, or the reason SQLite cannot run on this Node.
 * Opening a database is the test: importing the package works whatever Node built the module.
 */
export async function sqliteOpener(): Promise<{ open: SqliteOpener; binding: string } | { skipped: string }> {
  const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite");
  const Database = require("better-sqlite3") as Database;
  const binding = process.env.BETTER_SQLITE3_BINDING;
  const options = binding ? { nativeBinding: binding } : {};
  try {
    new Database(":memory:", options).close();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return /NODE_MODULE_VERSION|was compiled against a different Node/.test(message)
      ? { skipped: "skipped: native module built for another Node (set BETTER_SQLITE3_BINDING)" }
      : { skipped: `skipped: ${message.split("\n")[0]}` };
  }
  return {
    binding: binding ?? join(require.resolve("better-sqlite3"), "../../build/Release/better_sqlite3.node"),
    open: (file) => new SqliteSaver(new Database(file, options) as never),
  };
}
