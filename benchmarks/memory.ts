/**
 * Peak memory of large states, each call in a process of its own: the growth of the process's
 * peak RSS (the kernel's high-water mark, reset right before the call) during one `put` and one
 * `getTuple` of a state with one channel of SIZES MB, against LangGraph's serializer alone
 * (`dumpsTyped` / `loadsTyped` of the same value, which every saver pays) in a fresh process too.
 *
 *   npm run bench:memory                      (starts a local S3 server, runs this, stops it)
 *   SIZES=10,100 ROUNDS=3 npx tsx benchmarks/memory.ts   (with S3_* set)
 *
 * Why a process per call: in one long process, pages the heap took for an earlier call stay
 * resident after the garbage collector frees them, and a later call that reuses them shows less
 * growth than it causes (measured: 44 to 244 MiB for the same 100 MB read). A fresh process
 * starts each call from the same place. `bench:compare` measures speed; this measures memory.
 */
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { JsonPlusSerializer, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer } from "../src/index.js";
import { median, peakRss } from "./helpers/measure.js";
import { serverFromEnv, stateText } from "./helpers/setup.js";

const SIZES = (process.env.SIZES ?? "10,100").split(",").map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const KINDS = ["compressible", "random"] as const;
type Kind = (typeof KINDS)[number];
type Call = "put" | "getTuple" | "dumpsTyped" | "loadsTyped";

const meta = { source: "input" as const, step: -1, parents: {} };
const config = (thread: string) => ({ configurable: { thread_id: thread, checkpoint_ns: "" } });
const checkpointOf = (text: string) => ({
  ...emptyCheckpoint(),
  id: uuid6(-1),
  channel_values: { doc: text },
  channel_versions: { doc: 1 },
});

/**
 * The state's text, made from 1 MiB pieces joined and flattened before anything is measured:
 * garbage left by making it must not be memory a measured call reuses unseen (V8 gives the pages
 * of large strings back when it collects them; freed buffers can stay with the allocator).
 */
function textOf(mb: number, kind: Kind): string {
  let text = "";
  for (let i = 0; i < mb; i += 1) text += stateText(1, kind === "compressible");
  /\uFFFF/.test(text); // a regular expression needs the string flat: V8 flattens it here, once
  return text;
}

/** What `dumpsTyped` makes of {@link textOf}, made without a string of the whole state. */
function serializedOf(mb: number, kind: Kind): Uint8Array {
  const quote = Buffer.from('"');
  const pieces = Array.from({ length: mb }, () =>
    Buffer.from(JSON.stringify(stateText(1, kind === "compressible")).slice(1, -1), "utf8"),
  );
  return Buffer.concat([quote, ...pieces, quote]);
}

/** One call in this (fresh) process; prints its peak RSS growth in MiB as the last line. */
async function child(call: Call, bucket: string, prefix: string, mb: number, kind: Kind): Promise<void> {
  const { client } = serverFromEnv("bench:memory");
  const serde = new JsonPlusSerializer();
  const saver = new S3Checkpointer({ bucket, client, prefix });
  let growth: number;
  if (call === "put" || call === "dumpsTyped") {
    const text = textOf(mb, kind);
    // as LangGraph does before a thread's first put (and the bucket probe), not measured
    await saver.getTuple(config("t"));
    const checkpoint = checkpointOf(text);
    growth =
      call === "put"
        ? (await peakRss(() => saver.put(config("t"), checkpoint, meta, { doc: 1 }))).rssMiB
        : (await peakRss(() => serde.dumpsTyped(text))).rssMiB;
  } else if (call === "getTuple") {
    await saver.getTuple(config("warm")); // the bucket probe and a first connection, not measured
    const read = await peakRss(() => saver.getTuple(config("t")));
    if (typeof read.result?.checkpoint.channel_values.doc !== "string") throw new Error("the state was not read");
    growth = read.rssMiB;
  } else {
    const bytes = serializedOf(mb, kind);
    growth = (await peakRss(() => serde.loadsTyped("json", bytes))).rssMiB;
  }
  console.log(growth.toFixed(1));
}

async function main(): Promise<void> {
  const { client } = serverFromEnv("bench:memory");
  const bucket = `bench-mem-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const run = promisify(execFile);
  const inChild = async (call: Call, prefix: string, mb: number, kind: Kind) => {
    const args = ["--expose-gc", "--import", "tsx", new URL(import.meta.url).pathname, "child"];
    const { stdout } = await run(process.execPath, [...args, call, bucket, prefix, String(mb), kind], {
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
      maxBuffer: 1 << 20,
    });
    return Number(stdout.trim().split("\n").pop());
  };
  console.log(`Node ${process.version}, ${ROUNDS} rounds, medians; peak RSS growth of the process during the call\n`);
  console.log(
    "| state | `put` | `getTuple` | serializer alone, `dumpsTyped` / `loadsTyped` | ÷ state: `put` / `getTuple` | " +
      "÷ state: serializer alone |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const mb of SIZES) {
    for (const kind of KINDS) {
      const calls: Record<Call, number[]> = { put: [], getTuple: [], dumpsTyped: [], loadsTyped: [] };
      for (let r = 0; r < ROUNDS; r += 1) {
        const prefix = `mem/${randomUUID()}/`;
        calls.put.push(await inChild("put", prefix, mb, kind));
        calls.getTuple.push(await inChild("getTuple", prefix, mb, kind));
        calls.dumpsTyped.push(await inChild("dumpsTyped", prefix, mb, kind));
        calls.loadsTyped.push(await inChild("loadsTyped", prefix, mb, kind));
      }
      const m = (call: Call) => median(calls[call]);
      console.log(
        `| ${mb} MB, ${kind} | ${m("put").toFixed(0)} MiB | ${m("getTuple").toFixed(0)} MiB | ` +
          `${m("dumpsTyped").toFixed(0)} / ${m("loadsTyped").toFixed(0)} MiB | ` +
          `${(m("put") / mb).toFixed(2)}× / ${(m("getTuple") / mb).toFixed(2)}× | ` +
          `${(m("dumpsTyped") / mb).toFixed(2)}× / ${(m("loadsTyped") / mb).toFixed(2)}× |`,
      );
    }
  }
}

const [mode, call, bucket, prefix, mb, kind] = process.argv.slice(2);
if (mode === "child") await child(call as Call, bucket!, prefix!, Number(mb), kind as Kind);
else await main();
