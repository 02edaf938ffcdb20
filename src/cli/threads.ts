/** Looking at state: threads, history, show, versions, stats. */

import type { Command } from "commander";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { checkpointerOf, output, type GlobalFlags } from "./context.js";

type Globals = () => GlobalFlags;

const intArg = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number`);
  return n;
};

function summary(t: CheckpointTuple) {
  const c = t.config.configurable ?? {};
  const m = (t.metadata ?? {}) as { source?: string; step?: number };
  return {
    checkpointId: c.checkpoint_id as string,
    namespace: c.checkpoint_ns as string,
    parentId: (t.parentConfig?.configurable?.checkpoint_id as string | undefined) ?? null,
    source: m.source ?? null,
    step: m.step ?? null,
    ts: t.checkpoint.ts,
    channels: Object.keys(t.checkpoint.channel_values ?? {}),
    pendingWrites: t.pendingWrites?.length ?? 0,
    versionId: (t.config.configurable?.s3_version_id as string | undefined) ?? null,
  };
}

export function register(program: Command, globals: Globals): void {
  program
    .command("threads")
    .description("list the threads under the prefix")
    .option("--limit <n>", "at most this many", intArg("--limit"))
    .option("--after <thread>", "start after this thread id")
    .option("--details", "count checkpoints, namespaces and bytes (one listing per 1,000 objects of each thread)")
    .action(async (o: { limit?: number; after?: string; details?: boolean }) => {
      const flags = globals();
      const saver = checkpointerOf(flags);
      const rows = [];
      for await (const t of saver.listThreads({ limit: o.limit, after: o.after, details: o.details })) rows.push(t);
      output(flags, rows, (r) =>
        r.length === 0
          ? "no threads"
          : r
              .map((t) =>
                o.details
                  ? `${t.threadId}\t${t.checkpoints} checkpoints\t${t.bytes} bytes\t${t.namespaces!.length} namespaces\t${t.lastCheckpointAt?.toISOString() ?? ""}`
                  : t.threadId,
              )
              .join("\n"),
      );
    });

  program
    .command("history <thread>")
    .description("the thread's checkpoints, newest first")
    .option("--ns <namespace>", "only this namespace (\"\" is the root graph's)")
    .option("--limit <n>", "at most this many", intArg("--limit"))
    .action(async (thread: string, o: { ns?: string; limit?: number }) => {
      const flags = globals();
      const saver = checkpointerOf(flags);
      const rows = [];
      for await (const t of saver.list({ configurable: { thread_id: thread, ...(o.ns !== undefined ? { checkpoint_ns: o.ns } : {}) } }, { limit: o.limit })) {
        rows.push(summary(t));
      }
      output(flags, rows, (r) =>
        r.length === 0
          ? `no checkpoints in thread ${JSON.stringify(thread)}`
          : r.map((s) => `${s.checkpointId}  step ${s.step}  ${s.source}  ${s.namespace || "(root)"}  ${s.ts}  writes: ${s.pendingWrites}`).join("\n"),
      );
    });

  program
    .command("show <thread>")
    .description("a checkpoint's decoded state as JSON (the latest, or --checkpoint / --version)")
    .option("--checkpoint <id>", "this checkpoint id")
    .option("--version <versionId>", "this stored S3 version of a checkpoint record")
    .option("--ns <namespace>", "namespace", "")
    .action(async (thread: string, o: { checkpoint?: string; version?: string; ns: string }) => {
      const flags = globals();
      const saver = checkpointerOf(flags);
      const tuple = await saver.getTuple({
        configurable: {
          thread_id: thread,
          checkpoint_ns: o.ns,
          ...(o.checkpoint ? { checkpoint_id: o.checkpoint } : {}),
          ...(o.version ? { s3_version_id: o.version } : {}),
        },
      });
      if (!tuple) throw new Error(`no such checkpoint in thread ${JSON.stringify(thread)}`);
      const shown = { ...summary(tuple), metadata: tuple.metadata, values: tuple.checkpoint.channel_values, pendingWrites: tuple.pendingWrites };
      process.stdout.write(`${JSON.stringify(shown, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2)}\n`);
    });

  program
    .command("versions <thread>")
    .description("every stored version of the thread's checkpoints (versioned buckets)")
    .option("--deleted", "include versions of a soft-deleted thread")
    .action(async (thread: string, o: { deleted?: boolean }) => {
      const flags = globals();
      const saver = checkpointerOf(flags);
      const rows = [];
      for await (const v of saver.listVersions(thread, { includeDeleted: o.deleted })) rows.push(v);
      output(flags, rows, (r) =>
        r.map((v) => `${v.checkpointId}  ${v.versionId}  ${v.lastModified?.toISOString() ?? ""}  ${v.size} bytes${v.deleted ? "  (deleted)" : ""}`).join("\n") ||
        "no versions",
      );
    });

  program
    .command("stats")
    .description("threads, checkpoints and bytes under the prefix")
    .action(async () => {
      const flags = globals();
      const saver = checkpointerOf(flags);
      const stats = { threads: 0, checkpoints: 0, bytes: 0 };
      for await (const t of saver.listThreads({ details: true })) {
        stats.threads += 1;
        stats.checkpoints += t.checkpoints ?? 0;
        stats.bytes += t.bytes ?? 0;
      }
      output(flags, stats, (s) => `${s.threads} threads, ${s.checkpoints} checkpoints, ${s.bytes} bytes`);
    });
}
