/** Checking stored state: verify, with quarantine of what is corrupt. */

import type { Command } from "commander";
import { EXIT, confirm, output, progress, withCheckpointer, type Globals } from "./context.js";

export function register(program: Command, globals: Globals): void {
  program
    .command("verify [thread]")
    .description(
      "read and check every object (of one thread, or of all); report corrupt keys; exit 1 when some are left",
    )
    .option("--quarantine", "move corrupt objects to {prefix}quarantine/ so the rest reads again")
    .action(async (thread: string | undefined, o: { quarantine?: boolean }) => {
      const flags = globals();
      if (o.quarantine) await confirm(flags, "move the corrupt objects found to quarantine?");
      const bar = progress(flags, "verifying");
      const report = await withCheckpointer(flags, (saver) =>
        saver.verify({ threadId: thread, quarantine: o.quarantine }, (n) => bar.update(n, undefined, "objects")),
      ).finally(() => bar.stop());
      output(flags, report, (r) =>
        [
          `${r.objects} objects checked, ${r.corrupt.length} corrupt${o.quarantine ? `, ${r.quarantined.length} moved to quarantine` : ""}`,
          ...r.corrupt.map((c) => `  ${c.key}: ${c.code}`),
        ].join("\n"),
      );
      if (report.quarantined.length < report.corrupt.length) process.exitCode = EXIT.failure;
    });
}
