/** Changing state: setup, delete, undelete, purge, restore, copy, reencrypt, verify. */

import type { Command } from "commander";
import { checkpointerOf, confirm, output, progress, type GlobalFlags } from "./context.js";

type Globals = () => GlobalFlags;

export function register(program: Command, globals: Globals): void {
  program
    .command("setup")
    .description("check the bucket; create it, turn versioning on, install the lifecycle rule when asked")
    .option("--create-bucket", "create the bucket when it does not exist")
    .option("--versioning", "turn versioning on")
    .option("--lifecycle-days <days>", "install the lifecycle rule: noncurrent versions expire after this many days", Number)
    .action(async (o: { createBucket?: boolean; versioning?: boolean; lifecycleDays?: number }) => {
      const flags = globals();
      const caps = await checkpointerOf(flags).setup({
        createBucket: o.createBucket,
        versioning: o.versioning,
        ...(o.lifecycleDays !== undefined ? { lifecycle: { noncurrentVersionDays: o.lifecycleDays } } : {}),
      });
      output(flags, caps, (c) => `versioning ${c.versioning}; immutability by ${c.immutability}`);
    });

  program
    .command("delete <thread>")
    .description("delete a thread (soft on a versioned bucket: undelete brings it back)")
    .action(async (thread: string) => {
      const flags = globals();
      await confirm(flags, `delete thread ${JSON.stringify(thread)}?`);
      await checkpointerOf(flags).deleteThread(thread);
      output(flags, { deleted: thread }, () => `deleted thread ${JSON.stringify(thread)}`);
    });

  program
    .command("undelete <thread>")
    .description("undo a soft delete (restoreThread)")
    .action(async (thread: string) => {
      const flags = globals();
      const markers = await checkpointerOf(flags).restoreThread(thread);
      output(flags, { thread, markersRemoved: markers }, () => `thread ${JSON.stringify(thread)} is back (${markers} delete markers removed)`);
    });

  program
    .command("purge <thread>")
    .description("erase every version and delete marker of a thread, for good")
    .action(async (thread: string) => {
      const flags = globals();
      await confirm(flags, `erase thread ${JSON.stringify(thread)} for good, every version?`);
      const report = await checkpointerOf(flags).purgeThread(thread);
      output(flags, report, (r) => `purged ${JSON.stringify(thread)}: ${r.keys} keys, ${r.versionsDeleted} versions and markers deleted`);
    });

  program
    .command("restore <thread>")
    .description("make a stored version of a checkpoint the newest checkpoint (as a fork)")
    .requiredOption("--version <versionId>", "the S3 version id (from `versions`)")
    .option("--to <thread>", "restore into this thread instead")
    .action(async (thread: string, o: { version: string; to?: string }) => {
      const flags = globals();
      const config = await checkpointerOf(flags).restoreCheckpoint(
        { configurable: { thread_id: thread, s3_version_id: o.version } },
        o.to !== undefined ? { toThreadId: o.to } : {},
      );
      output(flags, config.configurable, (c) => `restored as checkpoint ${c?.checkpoint_id} of thread ${JSON.stringify(c?.thread_id)}`);
    });

  program
    .command("copy <from> <to>")
    .description("copy a thread into an empty thread")
    .action(async (from: string, to: string) => {
      const flags = globals();
      const objects = await checkpointerOf(flags).copyThread(from, to);
      output(flags, { from, to, objects }, () => `copied ${objects} objects from ${JSON.stringify(from)} to ${JSON.stringify(to)}`);
    });

  program
    .command("reencrypt <thread>")
    .description("rewrite a thread's objects under the current encryption key")
    .action(async (thread: string) => {
      const flags = globals();
      const report = await checkpointerOf(flags).reencryptThread(thread);
      output(flags, report, (r) => `${r.reencrypted} of ${r.objects} objects re-encrypted (${r.alreadyCurrent} were already)`);
    });

  program
    .command("verify [thread]")
    .description("read and check every object (of one thread, or all); report corrupt keys")
    .option("--quarantine", "move corrupt objects to {prefix}quarantine/ so the rest reads again")
    .action(async (thread: string | undefined, o: { quarantine?: boolean }) => {
      const flags = globals();
      if (o.quarantine) await confirm(flags, "move corrupt objects to quarantine?");
      const bar = progress(flags, "verifying");
      const report = await checkpointerOf(flags).verify({ threadId: thread, quarantine: o.quarantine }, (n) => bar.update(n));
      bar.stop();
      output(flags, report, (r) =>
        [
          `${r.objects} objects checked, ${r.corrupt.length} corrupt${o.quarantine ? `, ${r.quarantined.length} quarantined` : ""}`,
          ...r.corrupt.map((c) => `  ${c.key}: ${c.code}`),
        ].join("\n"),
      );
      if (report.corrupt.length > 0 && report.quarantined.length < report.corrupt.length) process.exitCode = 1;
    });
}
