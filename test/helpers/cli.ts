/**
 * Running the `langgraph-s3` command line as a process in tests: the command bundled as the
 * package build does it, the environment an operator sets, and the graphs and comparisons the
 * CLI tests share.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Annotation, END, START, StateGraph, type BaseCheckpointSaver } from "@langchain/langgraph";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { build } from "tsup";
import { afterAll, beforeAll, expect } from "vitest";
import { s3Config } from "./s3.js";
// the command as it ships: src/cli/index.ts bundled as the package build does, into a folder
// inside the project so its dependencies resolve from node_modules (one per test file: files
// share a process id when they run in worker threads)
const OUT = join(import.meta.dirname, `../../node_modules/.cache/langgraph-s3-cli-${process.pid}-${randomUUID()}`);
const CLI = join(OUT, "cli.js");
/** Builds the command before a test file's tests (call at the top of the file). */
export function buildCli(): void {
  beforeAll(async () => {
    await build({
      entry: { cli: join(import.meta.dirname, "../../src/cli/index.ts") },
      format: ["esm"],
      outDir: OUT,
      target: "node20",
      config: false,
      silent: true,
      noExternal: ["p-limit", "yocto-queue"],
    });
  }, 120_000);
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment `S3Checkpointer.fromEnv()` reads, as an operator would set it. */
export function envFor(bucket: string, prefix: string): NodeJS.ProcessEnv {
  const s3 = s3Config();
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_NO_WARNINGS: "1",
    LANGGRAPH_S3_BUCKET: bucket,
    LANGGRAPH_S3_PREFIX: prefix,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
}

/** Runs the CLI with stdin and stdout as pipes (never a terminal); `whileRunning` may kill it. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
  whileRunning?: (kill: () => void) => Promise<void>,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end();
    whileRunning?.(() => child.kill("SIGKILL")).catch(reject);
  });
}

export const json = (run: Run) => {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as unknown;
};

export function loopGraph(saver: BaseCheckpointSaver, steps: number) {
  const State = Annotation.Root({
    i: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
    note: Annotation<string>(),
  });
  return new StateGraph(State)
    .addNode("tick", (s) => ({ i: s.i + 1, note: `step ${s.i + 1} `.repeat(20) }))
    .addEdge(START, "tick")
    .addConditionalEdges("tick", (s) => (s.i >= steps ? END : "tick"))
    .compile({ checkpointer: saver });
}

export async function history(saver: BaseCheckpointSaver, threadId: string): Promise<CheckpointTuple[]> {
  const out: CheckpointTuple[] = [];
  for await (const t of saver.list({ configurable: { thread_id: threadId } })) out.push(t);
  return out;
}
/**
 * A checkpoint as a saver must give it back. SqliteSaver also returns values of channels that
 * have no version (an empty `__pregel_tasks: []`, a reducer's `[]` at the input step): a value
 * without a version is no state (the channel starts empty either way), and this saver, like
 * MemorySaver, keeps a value only with its version.
 */
export const comparable = (t: CheckpointTuple) => ({
  id: t.config.configurable?.checkpoint_id,
  ns: t.config.configurable?.checkpoint_ns,
  parent: t.parentConfig?.configurable?.checkpoint_id,
  checkpoint: {
    ...t.checkpoint,
    channel_values: Object.fromEntries(
      Object.entries(t.checkpoint.channel_values).filter(([c]) => Object.hasOwn(t.checkpoint.channel_versions, c)),
    ),
  },
  metadata: t.metadata,
  pendingWrites: t.pendingWrites,
});
