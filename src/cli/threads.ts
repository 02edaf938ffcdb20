/** Looking at state: threads, history, show, versions, stats. Nothing here changes anything. */

import type { Command } from "commander";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { output, parseWhole, table, toJson, withCheckpointer, type Globals } from "./context.js";

/** A checkpoint in one line's worth of fields. */
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
    versionId: (c.s3_version_id as string | undefined) ?? null,
  };
}

const bytes = (n: number | undefined) =>
  n === undefined
    ? ""
    : n < 1024
      ? `${n} B`
      : n < 1024 ** 2
        ? `${(n / 1024).toFixed(1)} KiB`
        : `${(n / 1024 ** 2).toFixed(1)} MiB`;

export function register(program: Command, globals: Globals): void {
  program
    .command("threads")
    .description("list the threads under the prefix, in key order")
    .option("--limit <n>", "at most this many", parseWhole("--limit"))
    .option("--after <thread>", "start after this thread id (the last one of a previous page)")
    .option("--details", "count checkpoints, namespaces and bytes (one more listing per 1,000 objects of each thread)")
    .action(async (o: { limit?: number; after?: string; details?: boolean }) => {
      const flags = globals();
      const rows = await withCheckpointer(flags, async (saver) => {
        const out = [];
        for await (const t of saver.listThreads({ limit: o.limit, after: o.after, details: o.details })) out.push(t);
        return out;
      });
      output(flags, rows, (r) => {
        if (r.length === 0) return "no threads";
        if (!o.details) return r.map((t) => t.threadId).join("\n");
        return table(
          ["THREAD", "CHECKPOINTS", "NAMESPACES", "SIZE", "LAST WRITE"],
          r.map((t) => [
            t.threadId,
            String(t.checkpoints),
            String(t.namespaces?.length ?? 0),
            bytes(t.bytes),
            t.lastCheckpointAt?.toISOString() ?? "",
          ]),
        );
      });
    });

  program
    .command("history <thread>")
    .description("the thread's checkpoints, newest first")
    .option("--ns <namespace>", 'only this namespace ("" is the root graph\'s)')
    .option("--limit <n>", "at most this many", parseWhole("--limit"))
    .action(async (thread: string, o: { ns?: string; limit?: number }) => {
      const flags = globals();
      const rows = await withCheckpointer(flags, async (saver) => {
        const out = [];
        const config = { configurable: { thread_id: thread, ...(o.ns !== undefined ? { checkpoint_ns: o.ns } : {}) } };
        for await (const t of saver.list(config, { limit: o.limit })) out.push(summary(t));
        return out;
      });
      output(flags, rows, (r) =>
        r.length === 0
          ? `no checkpoints in thread ${JSON.stringify(thread)}`
          : table(
              ["CHECKPOINT", "STEP", "SOURCE", "NAMESPACE", "WRITTEN", "WRITES"],
              r.map((s) => [
                s.checkpointId,
                String(s.step ?? ""),
                s.source ?? "",
                s.namespace || "(root)",
                s.ts,
                String(s.pendingWrites),
              ]),
            ),
      );
    });

  program
    .command("show <thread>")
    .description("a checkpoint's decoded state as JSON: the latest, or --checkpoint ID, or --version VID")
    .option("--checkpoint <id>", "this checkpoint id")
    .option("--version <versionId>", "this stored S3 version of a checkpoint record (from `versions`)")
    .option("--ns <namespace>", "namespace", "")
    .action(async (thread: string, o: { checkpoint?: string; version?: string; ns: string }) => {
      const flags = globals();
      const tuple = await withCheckpointer(flags, (saver) =>
        saver.getTuple({
          configurable: {
            thread_id: thread,
            checkpoint_ns: o.ns,
            ...(o.checkpoint ? { checkpoint_id: o.checkpoint } : {}),
            ...(o.version ? { s3_version_id: o.version } : {}),
          },
        }),
      );
      if (!tuple) {
        process.stderr.write(`langgraph-s3: no such checkpoint in thread ${JSON.stringify(thread)}\n`);
        process.exitCode = 1;
        return;
      }
      const shown = {
        ...summary(tuple),
        metadata: tuple.metadata,
        values: tuple.checkpoint.channel_values,
        pendingWrites: tuple.pendingWrites,
      };
      process.stdout.write(`${toJson(shown)}\n`);
    });

  program
    .command("versions <thread>")
    .description("every stored version of the thread's checkpoint records (versioned buckets)")
    .option("--deleted", "include versions of a soft-deleted thread")
    .action(async (thread: string, o: { deleted?: boolean }) => {
      const flags = globals();
      const rows = await withCheckpointer(flags, async (saver) => {
        const out = [];
        for await (const v of saver.listVersions(thread, { includeDeleted: o.deleted })) out.push(v);
        return out;
      });
      output(flags, rows, (r) =>
        r.length === 0
          ? "no versions"
          : table(
              ["CHECKPOINT", "VERSION", "WRITTEN", "SIZE", ""],
              r.map((v) => [
                v.checkpointId,
                v.versionId,
                v.lastModified?.toISOString() ?? "",
                bytes(v.size),
                v.deleted ? "deleted" : "",
              ]),
            ),
      );
    });

  program
    .command("stats")
    .description("threads, checkpoints and bytes under the prefix (lists every object)")
    .action(async () => {
      const flags = globals();
      const stats = await withCheckpointer(flags, async (saver) => {
        const s = { threads: 0, checkpoints: 0, bytes: 0, lastCheckpointAt: undefined as Date | undefined };
        for await (const t of saver.listThreads({ details: true })) {
          s.threads += 1;
          s.checkpoints += t.checkpoints ?? 0;
          s.bytes += t.bytes ?? 0;
          if (t.lastCheckpointAt && (!s.lastCheckpointAt || t.lastCheckpointAt > s.lastCheckpointAt))
            s.lastCheckpointAt = t.lastCheckpointAt;
        }
        return s;
      });
      output(
        flags,
        stats,
        (s) =>
          `${s.threads} threads, ${s.checkpoints} checkpoints, ${bytes(s.bytes)}${s.lastCheckpointAt ? `; last write ${s.lastCheckpointAt.toISOString()}` : ""}`,
      );
    });
}
