/** Moving state between savers: `migrate --from … --to …`. */

import type { Command } from "commander";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer } from "../checkpointer.js";
import { migrate } from "../migrate.js";
import { UsageError, checkpointerOf, output, progress, type GlobalFlags, type Globals } from "./context.js";

/** The optional saver packages, loaded only here and only when a location names them. */
const SQLITE_PACKAGE = "@langchain/langgraph-checkpoint-sqlite";
const POSTGRES_PACKAGE = "@langchain/langgraph-checkpoint-postgres";

/** Loads an optional saver package (a peer dependency the user installs when needed). */
async function load(pkg: string): Promise<Record<string, unknown>> {
  try {
    // a variable specifier: bundlers leave it alone, so the package is looked up at run time
    return (await import(pkg)) as Record<string, unknown>;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new UsageError(`this location needs the package ${pkg}, which is not installed: npm install ${pkg}`);
    }
    throw e;
  }
}

/** A saver and how to let it go. */
interface OpenedSaver {
  saver: BaseCheckpointSaver;
  close(): Promise<void>;
}

/**
 * A saver from a location: `s3://bucket/prefix` (credentials and endpoint as for every command),
 * `sqlite:FILE` (@langchain/langgraph-checkpoint-sqlite) or `postgres:URL` / `postgresql://…`
 * (@langchain/langgraph-checkpoint-postgres).
 */
export async function saverAt(location: string, flags: GlobalFlags): Promise<OpenedSaver> {
  if (location.startsWith("s3://")) {
    const [bucket, ...rest] = location.slice("s3://".length).split("/");
    if (!bucket) throw new UsageError(`no bucket in ${location}`);
    const saver = checkpointerOf({ ...flags, bucket, prefix: rest.join("/") });
    return { saver, close: () => saver.close() };
  }
  if (location.startsWith("sqlite:")) {
    const file = location.slice("sqlite:".length);
    if (!file) throw new UsageError("sqlite: needs a file, as in sqlite:./state.db");
    const { SqliteSaver } = (await load(SQLITE_PACKAGE)) as {
      SqliteSaver: { fromConnString(file: string): BaseCheckpointSaver & { db?: { close(): void } } };
    };
    const saver = SqliteSaver.fromConnString(file);
    return { saver, close: async () => saver.db?.close() };
  }
  if (location.startsWith("postgres:") || location.startsWith("postgresql:")) {
    // `postgres:URL` or a URL of its own (postgres://…, postgresql://…)
    const rest = location.slice(location.indexOf(":") + 1);
    const url = rest.startsWith("//") ? location : rest;
    const { PostgresSaver } = (await load(POSTGRES_PACKAGE)) as {
      PostgresSaver: {
        fromConnString(url: string): BaseCheckpointSaver & { setup(): Promise<void>; end(): Promise<void> };
      };
    };
    const saver = PostgresSaver.fromConnString(url);
    await saver.setup();
    return { saver, close: () => saver.end() };
  }
  throw new UsageError(
    `unknown location ${JSON.stringify(location)}: use s3://bucket/prefix, sqlite:FILE or postgres:URL`,
  );
}

export function register(program: Command, globals: Globals): void {
  program
    .command("migrate")
    .description(
      "copy threads between savers, oldest checkpoint first; resumable and idempotent (s3://bucket/prefix, sqlite:FILE, postgres:URL)",
    )
    .requiredOption("--from <location>", "where the state is")
    .requiredOption("--to <location>", "where it goes")
    .option("--thread <id...>", "only these threads")
    .action(async (o: { from: string; to: string; thread?: string[] }) => {
      const flags = globals();
      if (o.from === o.to) throw new UsageError("--from and --to are the same location");
      const from = await saverAt(o.from, flags);
      const opened = [from];
      try {
        const to = await saverAt(o.to, flags);
        opened.push(to);
        // an S3 source lists its threads cheaply, so the bar can count them
        let threads = o.thread;
        if (!threads && from.saver instanceof S3Checkpointer) {
          threads = [];
          for await (const t of from.saver.listThreads()) threads.push(t.threadId);
        }
        // a bar over the threads when their number is known, a count of checkpoints otherwise
        const bar = progress(flags, "migrating");
        const seen = new Set<string>();
        let checkpoints = 0;
        const report = await migrate({
          from: from.saver,
          to: to.saver,
          threads,
          onProgress: (p) => {
            seen.add(p.threadId);
            checkpoints += 1;
            const thread = `${p.threadId} ${p.done}/${p.total} checkpoints`;
            if (threads) bar.update(seen.size - (p.done < p.total ? 1 : 0), threads.length, `threads | ${thread}`);
            else bar.update(checkpoints, undefined, `checkpoints | thread ${seen.size}: ${thread}`);
          },
        }).finally(() => bar.stop());
        output(
          flags,
          report,
          (r) =>
            `${r.threads} threads, ${r.checkpoints} checkpoints: ${r.written} written, ${r.alreadyThere} already there, ${r.writes} pending-write groups written; every one read back`,
        );
      } finally {
        for (const s of opened) await s.close();
      }
    });
}
