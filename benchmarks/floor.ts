/**
 * The round-trip floor of a superstep: a 30-superstep agent (a model node and a tool node, a
 * growing message list, the graph of benchmarks/compare.ts) on S3Checkpointer, in each of
 * LangGraph's durability modes, on an unversioned and a versioned bucket, directly and through
 * a proxy adding RTT_MS to every round trip. Per superstep: wall time, sequential S3 round
 * trips (the checkpointer's `langgraph_s3_s3_round_trips_total`), new TCP connections, and
 * the wall time over two floors:
 *
 * - round trips × RTT_MS: what the network alone costs;
 * - round trips × two raw `PutObject`s of the same client sent together (a superstep writes
 *   its record and its task's writes at once): the SDK, the store and the network, no
 *   checkpointer, on the same bucket, measured in the same rounds: what any S3 client pays here
 *   for that round trip (a versioned bucket's writes cost Ceph RGW more);
 * - the same plus MemorySaver's time per superstep (LangGraph's own work): what a checkpointer
 *   that cost nothing but its requests would take.
 *
 * MemorySaver runs the same graph: LangGraph's own time per superstep. Each checkpointer is
 * long-lived, as in an application (its bucket probe is done before timing); every run is a
 * new thread. Rounds are interleaved; medians. A benchmark, not a test.
 *
 *   ROUNDS=7 RTT_MS=20 S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npx tsx benchmarks/floor.ts
 *   bash scripts/local-s3.sh run -- tsx benchmarks/floor.ts
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { MemorySaver, type BaseCheckpointSaver } from "@langchain/langgraph";
import { agentLoop } from "./helpers/agent.js";
import { median } from "./helpers/measure.js";
import { S3Checkpointer, createClient, zstdImplementation } from "../src/index.js";
import { DelayProxy } from "./helpers/delay-proxy.js";
import { serverFromEnv } from "./helpers/setup.js";

const { endpoint, region, credentials, client: direct } = serverFromEnv("bench:compare");
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const RTT_MS = Number(process.env.RTT_MS ?? 20);
const STEPS = 30;
const MODES = ["sync", "async", "exit"] as const;
type Durability = (typeof MODES)[number];

const url = new URL(endpoint);
const proxy = new DelayProxy({ host: url.hostname, port: Number(url.port) }, RTT_MS);
await proxy.start();
const delayed = createClient({ endpoint: proxy.endpoint, region, credentials });
const version = (pkg: string) =>
  (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
console.log(
  `node ${process.version}; zstd ${zstdImplementation}; @langchain/langgraph ${version("@langchain/langgraph")}; ` +
    `@aws-sdk/client-s3 ${version("@aws-sdk/client-s3")}; store ${endpoint}; +${RTT_MS} ms; ${ROUNDS} rounds, medians`,
);

const buckets = {
  unversioned: `floor-u-${randomUUID().slice(0, 8)}`,
  versioned: `floor-v-${randomUUID().slice(0, 8)}`,
};
await direct.send(new CreateBucketCommand({ Bucket: buckets.unversioned }));
await direct.send(new CreateBucketCommand({ Bucket: buckets.versioned }));
await direct.send(
  new PutBucketVersioningCommand({ Bucket: buckets.versioned, VersioningConfiguration: { Status: "Enabled" } }),
);

const agent = (saver: BaseCheckpointSaver) => agentLoop(saver, STEPS);

async function roundTrips(saver: BaseCheckpointSaver): Promise<number> {
  if (!(saver instanceof S3Checkpointer)) return 0;
  const text = await saver.metrics.registry!.getSingleMetricAsString("langgraph_s3_s3_round_trips_total");
  return Number(text.trim().split("\n").pop()!.split(" ").pop());
}

interface Case {
  name: string;
  saver: BaseCheckpointSaver;
  delayed: boolean;
}
const cases: Case[] = [{ name: "MemorySaver", saver: new MemorySaver(), delayed: false }];
for (const [label, client, isDelayed] of [
  ["no added delay", direct, false],
  [`+${RTT_MS} ms`, delayed, true],
] as const) {
  for (const kind of ["unversioned", "versioned"] as const) {
    const saver = new S3Checkpointer({ bucket: buckets[kind], client, prefix: `floor/${randomUUID()}/` });
    await saver.capabilities(); // the probe, once per checkpointer, as at an application's start
    cases.push({ name: `S3, ${kind}, ${label}`, saver, delayed: isDelayed });
  }
}

/** Median of `n` round trips of two record-sized PutObjects sent together: a raw superstep of `client`. */
async function rawPut(client: S3Client, bucket: string, n = 10): Promise<number> {
  const body = Buffer.alloc(3000, 97);
  const ms: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const t = performance.now();
    await Promise.all(
      ["a", "b"].map((k) => client.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${k}${i}`, Body: body }))),
    );
    ms.push(performance.now() - t);
  }
  return median(ms);
}

const results = new Map<string, { ms: number[]; rt: number[]; conns: number[] }>();
/** Raw pairs by bucket kind and client: a versioned bucket's writes cost the store more. */
const raw = new Map<string, number[]>();
const rawKey = (kind: string, isDelayed: boolean) => `${kind}|${isDelayed}`;
const rawRound = async (n?: number) => {
  for (const kind of ["unversioned", "versioned"] as const) {
    for (const [client, isDelayed] of [
      [direct, false],
      [delayed, true],
    ] as const) {
      const ms = await rawPut(client, buckets[kind], n);
      raw.set(rawKey(kind, isDelayed), [...(raw.get(rawKey(kind, isDelayed)) ?? []), ms]);
    }
  }
};
await rawRound(3); // warm-up, not counted
raw.clear();
for (let r = 0; r < ROUNDS; r += 1) {
  await rawRound();
  for (const durability of MODES) {
    for (const c of cases) {
      const graph = agent(c.saver);
      const rt0 = await roundTrips(c.saver);
      const conns0 = proxy.connections;
      const started = performance.now();
      await graph.invoke(
        { messages: ["user: plan my trip"] },
        { configurable: { thread_id: randomUUID() }, durability, recursionLimit: 100 },
      );
      const ms = performance.now() - started;
      const key = `${c.name}|${durability}`;
      const entry = results.get(key) ?? { ms: [], rt: [], conns: [] };
      entry.ms.push(ms / STEPS);
      entry.rt.push(((await roundTrips(c.saver)) - rt0) / STEPS);
      entry.conns.push((proxy.connections - conns0) / STEPS);
      results.set(key, entry);
    }
  }
}

const rawMs = (kind: string, isDelayed: boolean) => median(raw.get(rawKey(kind, isDelayed))!);
console.log(`\ntwo raw PutObjects at once (3 kB each, keep-alive), ms:`);
for (const kind of ["unversioned", "versioned"])
  console.log(
    `  ${kind} bucket: ${rawMs(kind, false).toFixed(1)} directly, ${rawMs(kind, true).toFixed(1)} at +${RTT_MS} ms`,
  );
console.log();
console.log(
  `| saver | durability | ms / superstep | round trips / superstep | new connections / superstep | ` +
    `× (round trips × ${RTT_MS} ms) | × (round trips × raw pair) | × (MemorySaver + round trips × raw pair) |\n` +
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
);
for (const [key, { ms, rt, conns }] of results) {
  const [name, durability] = key.split("|") as [string, Durability];
  const c = cases.find((x) => x.name === name)!;
  const perStep = median(ms);
  const trips = median(rt);
  const s3 = c.saver instanceof S3Checkpointer;
  const vsRtt = c.delayed && trips > 0 ? `${(perStep / (trips * RTT_MS)).toFixed(2)}×` : "—";
  const rawFloor = s3 ? trips * rawMs(name.includes("unversioned") ? "unversioned" : "versioned", c.delayed) : 0;
  const vsRaw = s3 && trips > 0 ? `${(perStep / rawFloor).toFixed(2)}×` : "—";
  const own = median(results.get(`MemorySaver|${durability}`)!.ms);
  const vsOwn = s3 && trips > 0 ? `${(perStep / (own + rawFloor)).toFixed(2)}×` : "—";
  console.log(
    `| ${name} | ${durability} | ${perStep.toFixed(1)} | ${s3 ? trips.toFixed(2) : "—"} | ` +
      `${c.delayed ? median(conns).toFixed(2) : "—"} | ${vsRtt} | ${vsRaw} | ${vsOwn} |`,
  );
}
await proxy.stop();
