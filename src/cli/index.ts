#!/usr/bin/env node
/**
 * `langgraph-s3`: the operator's command line for agent state kept by S3Checkpointer.
 *
 * Configuration comes from the same environment variables as `S3Checkpointer.fromEnv()`
 * (`LANGGRAPH_S3_BUCKET`, `LANGGRAPH_S3_PREFIX`, the AWS SDK's region, credentials and
 * `AWS_ENDPOINT_URL_S3`), overridden by flags. Exit codes: 0 ok, 1 failure, 2 usage.
 */

import { Command, CommanderError } from "commander";
import { isS3CheckpointerError } from "../errors.js";
import { EXIT, UsageError, type GlobalFlags } from "./context.js";
import { register as registerManage } from "./manage.js";
import { register as registerMigrate } from "./migrate.js";
import { register as registerRetention } from "./retention.js";
import { register as registerShare } from "./share.js";
import { register as registerThreads } from "./threads.js";
import { register as registerVerify } from "./verify.js";

export function buildProgram(): Command {
  const program = new Command("langgraph-s3")
    .description("Look at, clean up and move LangGraph agent state kept in S3 by langgraph-checkpoint-s3")
    .option("--bucket <bucket>", "the bucket (default: $LANGGRAPH_S3_BUCKET)")
    .option("--prefix <prefix>", "the key prefix (default: $LANGGRAPH_S3_PREFIX)")
    .option("--endpoint <url>", "an S3-compatible endpoint (default: $AWS_ENDPOINT_URL_S3)")
    .option("--region <region>", "the region (default: the AWS SDK's, $AWS_REGION)")
    .option("--json", "print JSON, for scripts")
    .option("-y, --yes", "confirm destructive commands without asking (needed when not on a terminal)")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 failure (S3, corrupt state, not found), 2 usage (bad flags, no --yes off a terminal).",
    )
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<GlobalFlags>();
  registerThreads(program, globals);
  registerManage(program, globals);
  registerRetention(program, globals);
  registerVerify(program, globals);
  registerMigrate(program, globals);
  registerShare(program, globals);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** A caller's mistake: exit code 2. */
function isUsage(e: unknown): boolean {
  return (
    e instanceof UsageError ||
    (isS3CheckpointerError(e) && (e.code === "INVALID_ARGUMENT" || e.code === "INVALID_OPTION"))
  );
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help ends here too, with code 0; commander printed the message already
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`${message.startsWith("langgraph-") ? message : `langgraph-s3: ${message}`}\n`);
    return isUsage(e) ? EXIT.usage : EXIT.failure;
  }
}

// exit once what was written has gone out (a pipe may still hold it)
const exit = (code: number) => process.stdout.write("", () => process.exit(code));
main(process.argv).then(exit, () => exit(EXIT.failure));
