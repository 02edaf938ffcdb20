/**
 * Cold reads: `graph.getState(config)` in a fresh process, as a service that starts per request
 * or a CLI pays it. Each round starts a new Node.js process (benchmarks/cold-read.mjs) that
 * imports the built package, makes an S3 client and reads a thread's latest checkpoint; it
 * reports the milliseconds since the process started at each step and the first read's requests
 * and round trips (from the checkpointer's own metrics, exact on any machine).
 *
 *   npm run bench:cold       (builds the package, starts a local S3 server, runs this, stops it)
 *   ROUNDS=9 npx tsx benchmarks/cold.ts   (with S3_* set, after `npm run build`)
 *
 * Runs on an unversioned and a versioned bucket, directly and through a proxy adding 20 ms to
 * every round trip. The thread has 30 checkpoints, each with a task's writes, and a channel
 * value large enough for an object of its own.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { CreateBucketCommand, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer } from "../src/index.js";
import { DelayProxy } from "./helpers/delay-proxy.js";
import { median } from "./helpers/measure.js";
import { serverFromEnv, stateText } from "./helpers/setup.js";

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const RTT_MS = 20;
const CHILD = new URL("./cold-read.mjs", import.meta.url);
if (!existsSync(new URL("../dist/index.js", import.meta.url))) {
  console.error("build the package first: npm run build (or run: npm run bench:cold)");
  process.exit(2);
}
const { endpoint, client } = serverFromEnv("bench:cold");
const run = promisify(execFile);

/** A thread of 30 checkpoints written by a checkpointer, on a new bucket. */
async function prepare(versioned: boolean) {
  const bucket = `bench-cold-${versioned ? "v" : "u"}-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (versioned) {
    await client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  }
  const prefix = "cold/";
  const saver = new S3Checkpointer({ bucket, client, prefix });
  const thread = "cold";
  const doc = stateText(0.3); // above the inline threshold (256 KiB): an object of its own
  let config = { configurable: { thread_id: thread, checkpoint_ns: "" } } as Parameters<S3Checkpointer["put"]>[0];
  for (let i = 0; i < 30; i += 1) {
    const checkpoint: Checkpoint = {
      ...emptyCheckpoint(),
      id: uuid6(-1),
      channel_values: { doc, step: i, messages: [`message ${i}`] },
      channel_versions: { doc: "1", step: String(i + 1), messages: String(i + 1) },
    };
    const versions = i === 0 ? { ...checkpoint.channel_versions } : { step: String(i + 1), messages: String(i + 1) };
    config = await saver.put(config, checkpoint, { source: "loop", step: i, parents: {} }, versions);
    await saver.putWrites(config, [["messages", `reply ${i}`]], `task-${i}`);
  }
  return { bucket, prefix, thread };
}

interface Sample {
  started: number;
  imported: number;
  made: number;
  first: number;
  second: number;
  requests: number;
  roundTrips: number;
}

async function sample(at: string, target: { bucket: string; prefix: string; thread: string }): Promise<Sample> {
  const { stdout } = await run(process.execPath, [CHILD.pathname, JSON.stringify({ endpoint: at, ...target })], {
    env: process.env,
  });
  return JSON.parse(stdout.trim().split("\n").pop()!) as Sample;
}

const url = new URL(endpoint);
const proxy = new DelayProxy({ host: url.hostname, port: Number(url.port) }, RTT_MS);
await proxy.start();
try {
  const targets = { unversioned: await prepare(false), versioned: await prepare(true) };
  const cases = [
    { name: "unversioned bucket", at: endpoint, target: targets.unversioned },
    { name: "versioned bucket", at: endpoint, target: targets.versioned },
    { name: `unversioned bucket, +${RTT_MS} ms round trip`, at: proxy.endpoint, target: targets.unversioned },
    { name: `versioned bucket, +${RTT_MS} ms round trip`, at: proxy.endpoint, target: targets.versioned },
  ];
  const samples = new Map<string, Sample[]>(cases.map((c) => [c.name, []]));
  // interleaved: each round runs every case once
  for (let r = 0; r < ROUNDS; r += 1) for (const c of cases) samples.get(c.name)!.push(await sample(c.at, c.target));

  console.log(`Node ${process.version}, ${ROUNDS} rounds, medians; milliseconds since the process started`);
  console.log();
  console.log(
    "| store | Node.js up | package imported | client and checkpointer made | first getTuple done | first getTuple alone | second getTuple (warm client) | requests / round trips of the first |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const c of cases) {
    const s = samples.get(c.name)!;
    const m = (f: (x: Sample) => number) => median(s.map(f)).toFixed(0);
    const counts = [...new Set(s.map((x) => `${x.requests} / ${x.roundTrips}`))].join(", ");
    console.log(
      `| ${c.name} | ${m((x) => x.started)} | ${m((x) => x.imported)} | ${m((x) => x.made)} | ${m((x) => x.first)} | ${m((x) => x.first - x.made)} | ${m((x) => x.second - x.first)} | ${counts} |`,
    );
  }
} finally {
  await proxy.stop();
  client.destroy();
}
