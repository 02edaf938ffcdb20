/** Moving state between savers: `migrate --from … --to …`. */

import type { Command } from "commander";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer } from "../checkpointer.js";
import { migrate } from "../migrate.js";
import { UsageError, checkpointerOf, output, progress, type GlobalFlags } from "./context.js";

type Globals = () => GlobalFlags;

/** Loads an optional saver package by name (not bundled; installed by the user when needed). */
async function load(pkg: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pkg as string)) as Record<string, unknown>;
  } catch {
    throw new UsageError(`this needs the package ${pkg}: npm install ${pkg}`);
  }
}

/**
 * A saver from a location: `s3://bucket/prefix` (credentials and endpoint as for every command),
 * `sqlite:FILE` (@langchain/langgraph-checkpoint-sqlite) or `postgres:URL`
 * (@langchain/langgraph-checkpoint-postgres).
 */
export async function saverAt(location: string, flags: GlobalFlags): Promise<BaseCheckpointSaver> {
  if (location.startsWith("s3://")) {
    const [bucket, ...rest] = location.slice("s3://".length).split("/");
    if (!bucket) throw new UsageError(`no bucket in ${location}`);
    return checkpointerOf({ ...flags, bucket, prefix: rest.join("/") });
  }
  if (location.startsWith("sqlite:")) {
    const { SqliteSaver } = (await load("@langchain/langgraph-checkpoint-sqlite")) as {
      SqliteSaver: { fromConnString(file: string): BaseCheckpointSaver };
    };
    return SqliteSaver.fromConnString(location.slice("sqlite:".length));
  }
  if (location.startsWith("postgres:") || location.startsWith("postgresql:")) {
    const { PostgresSaver } = (await load("@langchain/langgraph-checkpoint-postgres")) as {
      PostgresSaver: { fromConnString(url: string): BaseCheckpointSaver & { setup(): Promise<void> } };
    };
    const saver = PostgresSaver.fromConnString(location);
    await saver.setup();
    return saver;
  }
  throw new UsageError(`unknown location ${JSON.stringify(location)}: use s3://bucket/prefix, sqlite:FILE or postgres:URL`);
}

export function register(program: Command, globals: Globals): void {
  program
    .command("migrate")
    .description("copy threads between savers, resumable and idempotent (s3://bucket/prefix, sqlite:FILE, postgres:URL)")
    .requiredOption("--from <location>", "where the state is")
    .requiredOption("--to <location>", "where it goes")
    .option("--thread <id...>", "only these threads")
    .action(async (o: { from: string; to: string; thread?: string[] }) => {
      const flags = globals();
      const [from, to] = [await saverAt(o.from, flags), await saverAt(o.to, flags)];
      const bar = progress(flags, "migrating");
      let checkpoints = 0;
      const report = await migrate({
        from,
        to,
        threads: o.thread,
        onProgress: () => bar.update(++checkpoints),
      });
      bar.stop();
      for (const s of [from, to]) if (s instanceof S3Checkpointer) await s.close();
      output(
        flags,
        report,
        (r) => `${r.threads} threads, ${r.checkpoints} checkpoints: ${r.written} written, ${r.alreadyThere} already there, ${r.writes} write groups`,
      );
    });
}
