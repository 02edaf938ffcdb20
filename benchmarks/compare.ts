/**
 * Side by side: S3Checkpointer (unversioned and versioned bucket) against LangGraph's
 * MemorySaver, with no added delay and through a proxy that adds a 20 ms round trip to S3,
 * interleaved, medians of ROUNDS rounds. Workloads:
 *
 * - a 30-superstep agent loop (growing message list), in each of LangGraph's durability modes;
 * - reads of a long thread (latest and list(10)) next to a short one: they must not grow;
 * - large states (SIZES, MB) against raw PutObject / GetObject of the same bytes, with the
 *   process's peak RSS growth.
 *
 * A benchmark, not a test: numbers depend on the machine; CI runs only benchmarks/requests.ts.
 *
 *   npm run bench:compare   (starts a local S3 server, runs this, stops it)
 *   ROUNDS=5 SIZES=1,10,100 LONG=5000 PARTS=loop,long,large \
 *     S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npx tsx benchmarks/compare.ts
 */
import { randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Annotation, END, MemorySaver, START, StateGraph, type BaseCheckpointSaver } from "@langchain/langgraph";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer, createClient, zstdImplementation } from "../src/index.js";
import { DelayProxy } from "./helpers/delay-proxy.js";
import { serverFromEnv, stateText } from "./helpers/setup.js";

const { endpoint, region, credentials, client: direct } = serverFromEnv("bench:compare");
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SIZES = (process.env.SIZES ?? "1,10").split(",").map(Number);
const LONG = Number(process.env.LONG ?? 5000);
const meta = { source: "loop" as const, step: 0, parents: {} };
/** Which workloads run: `loop`, `long`, `large` (comma-separated). */
const PARTS = new Set((process.env.PARTS ?? "loop,long,large").split(","));
const RTT_MS = 20;
const url = new URL(endpoint);
const proxy = new DelayProxy({ host: url.hostname, port: Number(url.port) }, RTT_MS);
await proxy.start();
const delayed = createClient({ endpoint: proxy.endpoint, region, credentials });

const version = (pkg: string) =>
  (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
console.log(
  `node ${process.version}; zstd ${zstdImplementation}; @langchain/langgraph ${version("@langchain/langgraph")}; ` +
    `@aws-sdk/client-s3 ${version("@aws-sdk/client-s3")}; store ${endpoint}; ${ROUNDS} rounds, medians`,
);

const buckets = { unversioned: `cmp-u-${randomUUID().slice(0, 8)}`, versioned: `cmp-v-${randomUUID().slice(0, 8)}` };
await direct.send(new CreateBucketCommand({ Bucket: buckets.unversioned }));
await direct.send(new CreateBucketCommand({ Bucket: buckets.versioned }));
await direct.send(
  new PutBucketVersioningCommand({ Bucket: buckets.versioned, VersioningConfiguration: { Status: "Enabled" } }),
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s3 = (bucket: string, client: S3Client) => new S3Checkpointer({ bucket, client, prefix: `cmp/${randomUUID()}/` });

async function roundTrips(saver: BaseCheckpointSaver): Promise<number> {
  if (!(saver instanceof S3Checkpointer)) return 0;
  const text = await saver.metrics.registry!.getSingleMetricAsString("langgraph_s3_s3_round_trips_total");
  return Number(text.trim().split("\n").pop()!.split(" ").pop());
}

// ---- 1. an agent loop ------------------------------------------------------------------------
if (PARTS.has("loop")) {
  const STEPS = 30;
  const State = Annotation.Root({
    messages: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
    turn: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
  });
  function agent(saver: BaseCheckpointSaver) {
    return new StateGraph(State)
      .addNode("model", (s) => ({
        messages: [`assistant ${s.turn}: ${"calls a tool with some arguments ".repeat(12)}`],
        turn: s.turn + 1,
      }))
      .addNode("tool", (s) => ({ messages: [`tool ${s.turn}: ${"result line ".repeat(40)}`] }))
      .addEdge(START, "model")
      .addConditionalEdges("model", (s) => (s.turn >= STEPS / 2 ? END : "tool"))
      .addEdge("tool", "model")
      .compile({ checkpointer: saver });
  }

  type Durability = "sync" | "async" | "exit";
  const loopCases: { name: string; make: () => BaseCheckpointSaver; durability: Durability }[] = [
    { name: "MemorySaver", make: () => new MemorySaver(), durability: "sync" },
  ];
  for (const [label, client] of [
    ["no added delay", direct],
    [`+${RTT_MS} ms RTT`, delayed],
  ] as const) {
    for (const kind of ["unversioned", "versioned"] as const) {
      for (const durability of ["sync", "async", "exit"] as const) {
        loopCases.push({ name: `S3, ${kind} bucket, ${label}`, make: () => s3(buckets[kind], client), durability });
      }
    }
  }
  const loopTimes = new Map<string, { ms: number[]; rt: number[] }>();
  for (let r = 0; r < ROUNDS; r += 1) {
    for (const c of loopCases) {
      const saver = c.make();
      const graph = agent(saver);
      const started = performance.now();
      await graph.invoke(
        { messages: ["user: plan my trip"] },
        { configurable: { thread_id: randomUUID() }, durability: c.durability, recursionLimit: 100 },
      );
      const ms = performance.now() - started;
      const key = `${c.name}|${c.durability}`;
      const entry = loopTimes.get(key) ?? { ms: [], rt: [] };
      entry.ms.push(ms / STEPS);
      entry.rt.push((await roundTrips(saver)) / STEPS);
      loopTimes.set(key, entry);
    }
  }
  console.log(`\n### ${STEPS}-superstep agent loop: wall time per superstep\n`);
  console.log(
    "| saver | durability | ms / superstep | S3 round trips / superstep | vs round-trip floor |\n| --- | --- | --- | --- | --- |",
  );
  for (const [key, { ms, rt }] of loopTimes) {
    const [name, durability] = key.split("|");
    const floor = name!.includes("RTT") ? median(rt) * RTT_MS : undefined;
    const ratio = floor ? `${(median(ms) / floor).toFixed(2)}×` : "—";
    console.log(
      `| ${name} | ${durability} | ${median(ms).toFixed(1)} | ${name === "MemorySaver" ? "—" : median(rt).toFixed(2)} | ${ratio} |`,
    );
  }
}
// ---- 2. long threads -------------------------------------------------------------------------
if (PARTS.has("long")) {
  async function fillThread(bucket: string, n: number): Promise<{ prefix: string }> {
    const writer = s3(bucket, direct);
    const ids = Array.from({ length: n }, () => uuid6(-1));
    for (let i = 0; i < n; i += 100) {
      await Promise.all(
        ids
          .slice(i, i + 100)
          .map((id) =>
            writer.put(
              { configurable: { thread_id: "long", checkpoint_ns: "" } },
              { ...emptyCheckpoint(), id, channel_values: { n: id }, channel_versions: { n: 1 } },
              meta,
              { n: 1 },
            ),
          ),
      );
    }
    return { prefix: writer.options.prefix };
  }
  console.log(`\n### Reads of a long thread (fresh checkpointer, nothing cached), unversioned bucket\n`);
  console.log("| checkpoints | getTuple latest ms | list({ limit: 10 }) ms |\n| --- | --- | --- |");
  for (const n of [10, LONG]) {
    const { prefix } = await fillThread(buckets.unversioned, n);
    const latest: number[] = [];
    const listed: number[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      const reader = new S3Checkpointer({ bucket: buckets.unversioned, client: direct, prefix });
      let t = performance.now();
      await reader.getTuple({ configurable: { thread_id: "long" } });
      latest.push(performance.now() - t);
      const reader2 = new S3Checkpointer({ bucket: buckets.unversioned, client: direct, prefix });
      t = performance.now();
      for await (const _ of reader2.list({ configurable: { thread_id: "long" } }, { limit: 10 })) void _;
      listed.push(performance.now() - t);
    }
    console.log(`| ${n} | ${median(latest).toFixed(1)} | ${median(listed).toFixed(1)} |`);
  }
}
// ---- 3. large states against raw S3 ----------------------------------------------------------
if (PARTS.has("large")) {
  /** The process's peak RSS since the last reset (Linux: VmHWM), or `undefined` elsewhere. */
  function peakRssBytes(): number | undefined {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Runs `fn`: the growth of the process's peak RSS over its RSS at the start, in MiB. On Linux
   * the kernel's own high-water mark is reset first and read after (exact, also while zstd-codec
   * holds the event loop); elsewhere RSS is sampled every 10 ms.
   */
  async function peakRss<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; rssMiB: number }> {
    global.gc?.();
    let exact = false;
    try {
      writeFileSync("/proc/self/clear_refs", "5");
      exact = peakRssBytes() !== undefined;
    } catch {
      // not Linux: sampled below
    }
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const started = performance.now();
    const result = await fn();
    const ms = performance.now() - started;
    clearInterval(timer);
    peak = exact ? peakRssBytes()! : Math.max(peak, process.memoryUsage().rss);
    return { result, ms, rssMiB: (peak - base) / 1024 / 1024 };
  }

  console.log(
    `\n### Large states: S3Checkpointer put / getTuple against raw PutObject / GetObject of the same bytes (no added delay)\n`,
  );
  console.log(
    "| state | S3Checkpointer put MB/s | raw PutObject MB/s | getTuple MB/s | raw GetObject MB/s | RSS growth during put | RSS growth during getTuple |\n| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const mb of SIZES) {
    for (const compressible of [true, false]) {
      const text = stateText(mb, compressible);
      const bytes = Buffer.from(JSON.stringify(text));
      const r = {
        put: [] as number[],
        rawPut: [] as number[],
        get: [] as number[],
        rawGet: [] as number[],
        rss: [] as number[],
        getRss: [] as number[],
      };
      for (let i = 0; i < Math.min(ROUNDS, mb >= 100 ? 3 : ROUNDS); i += 1) {
        const saver = s3(buckets.unversioned, direct);
        const put = await peakRss(() =>
          saver.put(
            { configurable: { thread_id: "big", checkpoint_ns: "" } },
            { ...emptyCheckpoint(), id: uuid6(-1), channel_values: { doc: text }, channel_versions: { doc: 1 } },
            meta,
            { doc: 1 },
          ),
        );
        r.put.push(put.ms);
        r.rss.push(put.rssMiB);
        const fresh = new S3Checkpointer({ bucket: buckets.unversioned, client: direct, prefix: saver.options.prefix });
        const got = await peakRss(() => fresh.getTuple(put.result));
        r.get.push(got.ms);
        r.getRss.push(got.rssMiB);
        const key = `raw/${randomUUID()}`;
        let t = performance.now();
        await direct.send(
          new PutObjectCommand({ Bucket: buckets.unversioned, Key: key, Body: bytes, ContentLength: bytes.length }),
        );
        r.rawPut.push(performance.now() - t);
        t = performance.now();
        const raw = await direct.send(new GetObjectCommand({ Bucket: buckets.unversioned, Key: key }));
        await raw.Body!.transformToByteArray();
        r.rawGet.push(performance.now() - t);
      }
      const rate = (ms: number[]) => ((bytes.length / 1024 / 1024 / median(ms)) * 1000).toFixed(0);
      console.log(
        `| ${mb} MB ${compressible ? "compressible" : "random"} | ${rate(r.put)} | ${rate(r.rawPut)} | ${rate(r.get)} | ${rate(r.rawGet)} | ${median(r.rss).toFixed(0)} MiB | ${median(r.getRss).toFixed(0)} MiB |`,
      );
    }
  }
}
await proxy.stop();
