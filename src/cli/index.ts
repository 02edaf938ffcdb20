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
import { register as registerThreads } from "./threads.js";

export function buildProgram(): Command {
  const program = new Command("langgraph-s3")
    .description("Look at, clean up and move LangGraph agent state kept in S3 by langgraph-checkpoint-s3")
    .option("--bucket <bucket>", "the bucket (default: $LANGGRAPH_S3_BUCKET)")
    .option("--prefix <prefix>", "the key prefix (default: $LANGGRAPH_S3_PREFIX)")
    .option("--endpoint <url>", "an S3-compatible endpoint (default: $AWS_ENDPOINT_URL_S3)")
    .option("--region <region>", "the region (default: the AWS SDK's)")
    .option("--json", "print JSON, for scripts")
    .option("-y, --yes", "confirm destructive commands without asking (needed when not on a terminal)")
    .showHelpAfterError()
    .exitOverride();
  const globals = () => program.opts<GlobalFlags>();
  registerThreads(program, globals);
  registerManage(program, globals);
  registerMigrate(program, globals);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here too, with code 0
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`langgraph-s3: ${e.message}\n`);
      return EXIT.usage;
    }
    const message = isS3CheckpointerError(e) ? e.message : `langgraph-s3: ${(e as Error)?.message ?? String(e)}`;
    process.stderr.write(`${message}\n`);
    return EXIT.failure;
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  () => process.exit(EXIT.failure),
);
