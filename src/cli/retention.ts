/** Retention: prune old checkpoints of live threads, sweep idle threads away. */

import type { Command } from "commander";
import type { PruneReport } from "../retention.js";
import {
  UsageError,
  confirm,
  output,
  parseDuration,
  parseWhole,
  progress,
  table,
  withCheckpointer,
  type Globals,
} from "./context.js";

export function register(program: Command, globals: Globals): void {
  program
    .command("prune [thread]")
    .description("remove old checkpoints of a thread (or of every thread), never what a kept checkpoint reads")
    .option("--keep-last <n>", "keep the newest n checkpoints of each namespace", parseWhole("--keep-last", 1))
    .option(
      "--older-than <duration>",
      "remove only checkpoints older than this (90m, 12h, 30d, 2w)",
      parseDuration("--older-than"),
    )
    .option(
      "--orphan-grace <duration>",
      "remove values no record refers to once they are this old (default 15m)",
      parseDuration("--orphan-grace"),
    )
    .option("--dry-run", "count what would go, remove nothing")
    .action(
      async (
        thread: string | undefined,
        o: { keepLast?: number; olderThan?: number; orphanGrace?: number; dryRun?: boolean },
      ) => {
        const flags = globals();
        if (o.keepLast === undefined && o.olderThan === undefined)
          throw new UsageError("prune: pass --keep-last, --older-than or both");
        const options = {
          keepLast: o.keepLast,
          olderThan: o.olderThan,
          orphanGraceMs: o.orphanGrace,
          dryRun: o.dryRun,
        };
        if (!o.dryRun)
          await confirm(
            flags,
            `remove old checkpoints of ${thread === undefined ? "every thread" : `thread ${JSON.stringify(thread)}`}?`,
          );
        const reports = await withCheckpointer(flags, async (saver) => {
          if (thread !== undefined) return [await saver.prune(thread, options)];
          const threads: string[] = [];
          for await (const t of saver.listThreads()) threads.push(t.threadId);
          const bar = progress(flags, "pruning");
          const out: PruneReport[] = [];
          try {
            for (const id of threads) {
              out.push(await saver.prune(id, options));
              bar.update(out.length, threads.length, "threads");
            }
          } finally {
            bar.stop();
          }
          return out;
        });
        output(flags, thread === undefined ? reports : reports[0], () =>
          table(
            ["THREAD", "CHECKPOINTS", "KEPT", o.dryRun ? "WOULD REMOVE" : "REMOVED", "WRITES", "VALUES"],
            reports.map((r) => [
              r.threadId,
              String(r.checkpoints),
              String(r.kept),
              String(r.removed),
              String(r.writesRemoved),
              String(r.blobsRemoved),
            ]),
          ),
        );
      },
    );

  program
    .command("sweep")
    .description(
      "delete every thread with no write for a while (soft: restorable on a versioned bucket; purge: for good)",
    )
    .requiredOption(
      "--idle-for <duration>",
      "threads idle longer than this (90m, 12h, 30d, 2w)",
      parseDuration("--idle-for"),
    )
    .option("--mode <mode>", "soft or purge", "soft")
    .option("--dry-run", "list the idle threads, delete nothing")
    .action(async (o: { idleFor: number; mode: string; dryRun?: boolean }) => {
      const flags = globals();
      if (o.mode !== "soft" && o.mode !== "purge")
        throw new UsageError(`sweep: --mode must be soft or purge; got ${JSON.stringify(o.mode)}`);
      const mode = o.mode;
      if (!o.dryRun)
        await confirm(flags, `${mode === "purge" ? "erase for good" : "delete"} every thread idle that long?`);
      const bar = progress(flags, "sweeping");
      const report = await withCheckpointer(flags, (saver) =>
        saver.sweep({
          idleFor: o.idleFor,
          mode,
          dryRun: o.dryRun,
          onProgress: (p) => bar.update(p.done, p.total, p.threadId),
        }),
      ).finally(() => bar.stop());
      const done = o.dryRun ? "a dry run: nothing deleted" : mode === "purge" ? "purged" : "deleted";
      output(flags, report, (r) =>
        [`${r.idle.length} of ${r.threads} threads idle, ${done}`, ...r.idle.map((t) => `  ${t}`)].join("\n"),
      );
    });
}
