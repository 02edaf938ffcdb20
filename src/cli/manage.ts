/** Changing whole threads: setup, delete, undelete, purge, restore, copy, reencrypt. */

import type { Command } from "commander";
import { confirm, output, parseWhole, withCheckpointer, type Globals } from "./context.js";

export function register(program: Command, globals: Globals): void {
  program
    .command("setup")
    .description(
      "check the bucket and probe what it supports; create it, turn versioning on, install the lifecycle rule when asked",
    )
    .option("--create-bucket", "create the bucket when it does not exist")
    .option("--versioning", "turn versioning on (history, soft delete, restore)")
    .option(
      "--lifecycle-days <days>",
      "install the lifecycle rule: noncurrent versions expire after this many days",
      parseWhole("--lifecycle-days", 1),
    )
    .action(async (o: { createBucket?: boolean; versioning?: boolean; lifecycleDays?: number }) => {
      const flags = globals();
      const caps = await withCheckpointer(flags, (saver) =>
        saver.setup({
          createBucket: o.createBucket,
          versioning: o.versioning,
          ...(o.lifecycleDays !== undefined ? { lifecycle: { noncurrentVersionDays: o.lifecycleDays } } : {}),
        }),
      );
      output(flags, caps, (c) => `versioning ${c.versioning}; checkpoint ids kept immutable by ${c.immutability}`);
    });

  program
    .command("delete <thread>")
    .description("delete a thread (soft on a versioned bucket: `undelete` brings it back)")
    .action(async (thread: string) => {
      const flags = globals();
      await confirm(flags, `delete thread ${JSON.stringify(thread)}?`);
      await withCheckpointer(flags, (saver) => saver.deleteThread(thread));
      output(flags, { deleted: thread }, () => `deleted thread ${JSON.stringify(thread)}`);
    });

  program
    .command("undelete <thread>")
    .description("undo a soft delete: every object of the thread current again, as it was")
    .action(async (thread: string) => {
      const flags = globals();
      const markers = await withCheckpointer(flags, (saver) => saver.restoreThread(thread));
      output(
        flags,
        { thread, markersRemoved: markers },
        () => `thread ${JSON.stringify(thread)} is back (${markers} delete markers removed)`,
      );
    });

  program
    .command("purge <thread>")
    .description("erase every version and delete marker of a thread, for good")
    .action(async (thread: string) => {
      const flags = globals();
      await confirm(flags, `erase thread ${JSON.stringify(thread)} for good, every version?`);
      const report = await withCheckpointer(flags, (saver) => saver.purgeThread(thread));
      output(
        flags,
        report,
        (r) =>
          `purged ${JSON.stringify(thread)}: ${r.keys} keys, ${r.versionsDeleted} versions and delete markers removed`,
      );
    });

  program
    .command("restore <thread>")
    .description("make a stored version of a checkpoint the newest checkpoint of its thread (a fork)")
    .requiredOption("--version <versionId>", "the S3 version id of the checkpoint record (from `versions`)")
    .option("--to <thread>", "restore into this thread instead")
    .action(async (thread: string, o: { version: string; to?: string }) => {
      const flags = globals();
      const config = await withCheckpointer(flags, (saver) =>
        saver.restoreCheckpoint(
          { configurable: { thread_id: thread, s3_version_id: o.version } },
          o.to !== undefined ? { toThreadId: o.to } : {},
        ),
      );
      output(
        flags,
        config.configurable,
        (c) => `restored as checkpoint ${String(c?.checkpoint_id)} of thread ${JSON.stringify(c?.thread_id)}`,
      );
    });

  program
    .command("copy <from> <to>")
    .description("copy a thread into an empty thread")
    .action(async (from: string, to: string) => {
      const flags = globals();
      const objects = await withCheckpointer(flags, (saver) => saver.copyThread(from, to));
      output(
        flags,
        { from, to, objects },
        () => `copied ${objects} objects from ${JSON.stringify(from)} to ${JSON.stringify(to)}`,
      );
    });

  program
    .command("reencrypt <thread>")
    .description("rewrite a thread's objects under the current encryption key ($LANGGRAPH_S3_ENCRYPTION_KEY_ID)")
    .action(async (thread: string) => {
      const flags = globals();
      const report = await withCheckpointer(flags, (saver) => saver.reencryptThread(thread));
      output(
        flags,
        report,
        (r) =>
          `${r.reencrypted} of ${r.objects} objects re-encrypted (${r.alreadyCurrent} were already under the current key)`,
      );
    });
}
