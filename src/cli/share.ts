/** Sharing state: share, shares, revoke-share, import. */

import { InvalidArgumentError as CommanderArgumentError, type Command } from "commander";
import { importShared } from "../receive.js";
import { MAX_SHARE_EXPIRES_IN } from "../share.js";
import type { S3Checkpointer } from "../checkpointer.js";
import {
  checkpointerOf,
  confirm,
  output,
  parseDuration,
  parseWhole,
  table,
  withCheckpointer,
  type Globals,
} from "./context.js";
import { saverAt } from "./migrate.js";

/** `--expires-in`: a duration in whole seconds, at most SigV4's 7 days. */
function parseExpiry(value: string): number {
  const ms = parseDuration("--expires-in")(value);
  if (ms % 1000 !== 0 || ms < 1000 || ms > MAX_SHARE_EXPIRES_IN * 1000) {
    throw new CommanderArgumentError(
      "--expires-in must be whole seconds from 1s to 7d (a presigned URL lives 7 days at most)",
    );
  }
  return ms / 1000;
}

const own = (saver: S3Checkpointer) => ({ saver, close: () => saver.close() });

export function register(program: Command, globals: Globals): void {
  program
    .command("share <thread>")
    .description("write the thread's newest (or a named) checkpoint as one bundle and print a presigned URL for it")
    .requiredOption("--expires-in <duration>", "how long the URL works: 90s, 15m, 12h, 7d at most", parseExpiry)
    .option("--checkpoint <id>", "share this checkpoint instead of the newest")
    .option("--version <versionId>", "share this stored version of a checkpoint record (also after a delete)")
    .option("--history <n>", "also carry this many ancestors", parseWhole("--history", 0))
    .option("--plain", "no end-to-end encryption (the URL then carries no key)")
    .action(
      async (
        thread: string,
        o: { expiresIn: number; checkpoint?: string; version?: string; history?: number; plain?: boolean },
      ) => {
        const flags = globals();
        const configurable: Record<string, unknown> = { thread_id: thread };
        if (o.checkpoint !== undefined) configurable.checkpoint_id = o.checkpoint;
        if (o.version !== undefined) configurable.s3_version_id = o.version;
        const share = await withCheckpointer(flags, (saver) =>
          saver.share({ configurable }, { expiresIn: o.expiresIn, history: o.history ?? 0, encrypt: !o.plain }),
        );
        // the URL is what this command is for: it carries the key in its fragment, so treat the output as a secret
        output(
          flags,
          share,
          (s) =>
            `${s.url}\n(share ${s.shareId}, expires ${s.expiresAt.toISOString()}; revoke with \`revoke-share ${s.shareId}\`)`,
        );
      },
    );

  program
    .command("shares")
    .description("list the shares under the prefix, soonest to expire first")
    .action(async () => {
      const flags = globals();
      const shares = await withCheckpointer(flags, async (saver) => {
        const all = [];
        for await (const s of saver.listShares()) all.push(s);
        return all;
      });
      output(flags, shares, (list) =>
        list.length === 0
          ? "no shares"
          : table(
              ["share", "thread", "checkpoint", "expires", "bytes"],
              list.map((s) => [
                s.shareId,
                s.threadId ?? "?",
                s.checkpointId ?? "?",
                `${s.expiresAt.toISOString()}${s.expired ? " (expired)" : ""}`,
                String(s.bytes),
              ]),
            ),
      );
    });

  program
    .command("revoke-share <shareId>")
    .description("delete a share's bundle: its URL stops working at once")
    .action(async (shareId: string) => {
      const flags = globals();
      await confirm(flags, `revoke share ${shareId}? its URL stops working at once`);
      const revoked = await withCheckpointer(flags, (saver) => saver.revokeShare(shareId));
      output(flags, { shareId, revoked }, () => (revoked ? `revoked share ${shareId}` : `no share ${shareId}`));
    });

  program
    .command("import <url>")
    .description("import a shared checkpoint (no credentials needed to read it) into a thread of any saver")
    .requiredOption("--thread <id>", "the thread to import into")
    .option(
      "--into <location>",
      "s3://bucket/prefix, sqlite:FILE or postgres:URL (default: the configured bucket and prefix)",
    )
    .action(async (url: string, o: { thread: string; into?: string }) => {
      const flags = globals();
      const opened = o.into !== undefined ? await saverAt(o.into, flags) : own(checkpointerOf(flags));
      try {
        const config = await importShared(url, { into: opened.saver, threadId: o.thread });
        output(
          flags,
          config.configurable,
          (c) => `imported as checkpoint ${String(c?.checkpoint_id)} of thread ${JSON.stringify(o.thread)}`,
        );
      } finally {
        await opened.close();
      }
    });
}
