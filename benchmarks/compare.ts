/**
 * Side by side, in one run: S3Checkpointer (unversioned and versioned bucket) against the savers
 * users would pick instead, LangGraph's MemorySaver, SqliteSaver (a database file) and
 * PostgresSaver (a PostgreSQL server from Debian's packages, started on a free loopback port and
 * stopped after). Postgres and S3 run with no added delay and through the same proxy adding a
 * 20 ms round trip to each. Workloads, interleaved round by round, medians of ROUNDS rounds:
 *
 * - `loop`: a 30-superstep agent (a model and a tool node, a growing message list), in each of
 *   LangGraph's durability modes;
 * - `long`: reads of a 5,000-checkpoint thread (latest and list(10)) next to a 10-checkpoint one:
 *   they must not grow with history;
 * - `concurrent`: 50 threads × 20 supersteps at once on one saver;
 * - `large`: states of SIZES MB (compressible and not): put and getTuple against raw PutObject /
 *   GetObject of the same serialized bytes, MB/s and the process's peak RSS growth.
 *   LangGraph's serializer alone on the same value is timed beside them: every saver pays it.
 *
 * A benchmark, not a test: numbers depend on the machine; CI runs only benchmarks/requests.ts.
 *
 *   npm run bench:compare   (starts a local S3 server, runs this, stops it)
 *   ROUNDS=5 SIZES=1,10,100 LONG=5000 PARTS=loop,long,concurrent,large \
 *     S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npx tsx benchmarks/compare.ts
 *
 * STORE_NAME names the S3 server in the printed environment (the S3 API does not say).
 *
 * On a Node other than the one that built better-sqlite3, SqliteSaver is skipped unless
 * BETTER_SQLITE3_BINDING names a `better_sqlite3.node` built for this Node.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Annotation, END, MemorySaver, START, StateGraph, type BaseCheckpointSaver } from "@langchain/langgraph";
import { JsonPlusSerializer, emptyCheckpoint, uuid6, type CheckpointMetadata } from "@langchain/langgraph-checkpoint";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { RunnableConfig } from "@langchain/core/runnables";
import { S3Checkpointer, createClient, zstdImplementation } from "../src/index.js";
import { DelayProxy } from "./helpers/delay-proxy.js";
import { agentLoop } from "./helpers/agent.js";
import { median, peakRss, ratio } from "./helpers/measure.js";
import { postgresBin, startBenchmarkPostgres } from "./helpers/postgres.js";
import { serverFromEnv, stateText } from "./helpers/setup.js";
import { sqliteOpener } from "./helpers/sqlite.js";

const require = createRequire(import.meta.url);
const { endpoint, region, credentials, client: direct } = serverFromEnv("bench:compare");
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SIZES = (process.env.SIZES ?? "1,10,100").split(",").map(Number);
const LONG = Number(process.env.LONG ?? 5000);
/** Which workloads run (comma-separated). */
const PARTS = new Set((process.env.PARTS ?? "loop,long,concurrent,large").split(","));
const RTT_MS = 20;
const meta: CheckpointMetadata = { source: "loop", step: 0, parents: {} };

const version = (pkg: string) =>
  (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, "utf8")) as { version: string }).version;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" / ");

// ---- the savers ------------------------------------------------------------------------------
type Store = "memory" | "sqlite" | "postgres" | "s3-unversioned" | "s3-versioned";
interface Target {
  name: string;
  store: Store;
  delayMs: number;
  /** A saver for one run: a fresh one for S3 (nothing cached, its own counts), the shared one otherwise. */
  saver(prefix?: string): BaseCheckpointSaver;
}

const cleanups: (() => Promise<void> | void)[] = [];
const s3Proxy = new DelayProxy({ host: new URL(endpoint).hostname, port: Number(new URL(endpoint).port) }, RTT_MS);
await s3Proxy.start();
cleanups.push(() => s3Proxy.stop());
const delayed = createClient({ endpoint: s3Proxy.endpoint, region, credentials });
const buckets = { unversioned: `cmp-u-${randomUUID().slice(0, 8)}`, versioned: `cmp-v-${randomUUID().slice(0, 8)}` };

try {
  await direct.send(new CreateBucketCommand({ Bucket: buckets.unversioned }));
  await direct.send(new CreateBucketCommand({ Bucket: buckets.versioned }));
  await direct.send(
    new PutBucketVersioningCommand({ Bucket: buckets.versioned, VersioningConfiguration: { Status: "Enabled" } }),
  );
  const s3Target = (kind: "unversioned" | "versioned", client: S3Client, delayMs: number): Target => ({
    name: `S3, ${kind} bucket${delayMs ? `, +${delayMs} ms RTT` : ""}`,
    store: `s3-${kind}`,
    delayMs,
    saver: (prefix) => new S3Checkpointer({ bucket: buckets[kind], client, prefix: prefix ?? `cmp/${randomUUID()}/` }),
  });

  const environment = [
    `node ${process.version}`,
    `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`,
    `zstd ${zstdImplementation}`,
    `langgraph-checkpoint-s3 ${(JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version}`,
    `@langchain/langgraph ${version("@langchain/langgraph")}`,
    `@langchain/langgraph-checkpoint ${version("@langchain/langgraph-checkpoint")}`,
    `@aws-sdk/client-s3 ${version("@aws-sdk/client-s3")}`,
    `store ${process.env.STORE_NAME ?? "S3"} at ${endpoint}`,
  ];
  const targets: Target[] = [{ name: "MemorySaver", store: "memory", delayMs: 0, saver: () => new MemorySaver() }];
  const skipped: string[] = [];

  const sqlite = await sqliteOpener();
  if ("skipped" in sqlite) {
    skipped.push(`SqliteSaver: ${sqlite.skipped}`);
  } else {
    const dir = mkdtempSync(join(tmpdir(), "lgs3-compare-sqlite-"));
    const saver = sqlite.open(join(dir, "checkpoints.db"));
    // also when a signal ends the run (the cleanups below do not run then)
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => {
      saver.db.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const { v } = saver.db.prepare("select sqlite_version() as v").get() as { v: string };
    environment.push(
      `@langchain/langgraph-checkpoint-sqlite ${version("@langchain/langgraph-checkpoint-sqlite")}`,
      `better-sqlite3 ${version("better-sqlite3")} (SQLite ${v}, a file, WAL)`,
    );
    targets.push({ name: "SqliteSaver (file)", store: "sqlite", delayMs: 0, saver: () => saver });
  }

  const postgres: Target[] = [];
  if (!postgresBin()) {
    skipped.push("PostgresSaver: skipped: Debian's postgresql is not installed (apt-get install postgresql)");
  } else {
    const server = await startBenchmarkPostgres();
    cleanups.push(() => server.stop());
    const pgProxy = new DelayProxy({ host: "127.0.0.1", port: server.port }, RTT_MS);
    await pgProxy.start();
    cleanups.push(() => pgProxy.stop());
    const pg = require("pg") as { Pool: new (options: object) => ConstructorParameters<typeof PostgresSaver>[0] };
    for (const [port, delayMs] of [
      [server.port, 0],
      [pgProxy.port, RTT_MS],
    ] as const) {
      // connections stay open between rounds, as the S3 client's keep-alive sockets do
      // (node-postgres closes an idle one after 10 s by default)
      const pool = new pg.Pool({
        host: "127.0.0.1",
        port,
        user: "postgres",
        database: "postgres",
        idleTimeoutMillis: 0,
      });
      const saver = new PostgresSaver(pool);
      await saver.setup();
      cleanups.unshift(() => saver.end());
      postgres.push({
        name: `PostgresSaver${delayMs ? `, +${delayMs} ms RTT` : ""}`,
        store: "postgres",
        delayMs,
        saver: () => saver,
      });
    }
    environment.push(
      `@langchain/langgraph-checkpoint-postgres ${version("@langchain/langgraph-checkpoint-postgres")}`,
      `pg ${version("pg")} (pool of 10)`,
      `${server.version} (fsync off)`,
    );
  }
  targets.push(
    ...postgres.filter((t) => t.delayMs === 0),
    s3Target("unversioned", direct, 0),
    s3Target("versioned", direct, 0),
    ...postgres.filter((t) => t.delayMs > 0),
    s3Target("unversioned", delayed, RTT_MS),
    s3Target("versioned", delayed, RTT_MS),
  );
  console.log(`${environment.join("; ")}\n${ROUNDS} rounds, interleaved, medians; load average at start ${load()}`);
  for (const line of skipped) console.log(line);

  /** The PostgresSaver row of the same added delay, the one each row is compared with. */
  const postgresOf = (t: Target) => postgres.find((p) => p.delayMs === t.delayMs);

  async function roundTrips(saver: BaseCheckpointSaver): Promise<number | undefined> {
    if (!(saver instanceof S3Checkpointer)) return undefined;
    const text = await saver.metrics.registry!.getSingleMetricAsString("langgraph_s3_s3_round_trips_total");
    return Number(text.trim().split("\n").pop()!.split(" ").pop());
  }
  async function done(saver: BaseCheckpointSaver): Promise<void> {
    if (saver instanceof S3Checkpointer) await saver.close();
  }

  // ---- 1. an agent loop ----------------------------------------------------------------------
  if (PARTS.has("loop")) {
    const STEPS = 30;
    const agent = (saver: BaseCheckpointSaver) => agentLoop(saver, STEPS);

    const modes = ["sync", "async", "exit"] as const;
    const times = new Map<string, number[]>();
    const trips = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const t of targets) {
        for (const durability of modes) {
          const saver = t.saver();
          const started = performance.now();
          await agent(saver).invoke(
            { messages: ["user: plan my trip"] },
            { configurable: { thread_id: randomUUID() }, durability, recursionLimit: 100 },
          );
          const key = `${t.name}|${durability}`;
          times.set(key, [...(times.get(key) ?? []), (performance.now() - started) / STEPS]);
          const rt = await roundTrips(saver);
          if (rt !== undefined) trips.set(key, [...(trips.get(key) ?? []), rt / STEPS]);
          await done(saver);
        }
      }
    }
    const ms = (t: Target | undefined, mode: string) => {
      const xs = t && times.get(`${t.name}|${mode}`);
      return xs ? median(xs) : undefined;
    };
    console.log(`\n### ${STEPS}-superstep agent loop: ms per superstep (load average ${load()})\n`);
    console.log(
      '| saver | `"sync"` | `"async"` | `"exit"` | `"sync"` ÷ PostgresSaver | S3 round trips / superstep | ÷ round-trip floor |',
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const t of targets) {
      const rt = trips.get(`${t.name}|sync`);
      const floor = rt && t.delayMs ? median(rt) * t.delayMs : undefined;
      console.log(
        `| ${t.name} | ${modes.map((m) => ms(t, m)!.toFixed(1)).join(" | ")} | ` +
          `${ratio(ms(t, "sync"), ms(postgresOf(t), "sync"))} | ${rt ? median(rt).toFixed(2) : "—"} | ${ratio(ms(t, "sync"), floor)} |`,
      );
    }
  }

  // ---- 2. long threads -----------------------------------------------------------------------
  if (PARTS.has("long")) {
    /** Where a filled thread is: its id, and the S3 prefix or the MemorySaver that holds it. */
    interface Filled {
      threadId: string;
      prefix?: string;
      memory?: BaseCheckpointSaver;
    }
    async function fill(t: Target, n: number): Promise<Filled> {
      const threadId = `long-${n}-${randomUUID()}`;
      // filled without added delay: the delayed rows read what the direct ones wrote
      const writer = t.store.startsWith("s3")
        ? targets.find((x) => x.store === t.store && x.delayMs === 0)!.saver()
        : t.saver();
      const ids = Array.from({ length: n }, () => uuid6(-1));
      for (let i = 0; i < n; i += 100) {
        await Promise.all(
          ids
            .slice(i, i + 100)
            .map((id) =>
              writer.put(
                { configurable: { thread_id: threadId, checkpoint_ns: "" } },
                { ...emptyCheckpoint(), id, channel_values: { n: id }, channel_versions: { n: 1 } },
                meta,
                { n: 1 },
              ),
            ),
        );
      }
      if (writer instanceof S3Checkpointer) {
        await writer.close();
        return { threadId, prefix: writer.options.prefix };
      }
      return { threadId, memory: t.store === "memory" ? writer : undefined };
    }
    const filled = new Map<string, Filled>();
    for (const t of targets) {
      for (const n of [10, LONG]) {
        const key = `${t.store}|${n}`;
        if (!filled.has(key)) filled.set(key, await fill(t, n));
      }
    }
    const latest = new Map<string, number[]>();
    const listed = new Map<string, number[]>();
    const push = (m: Map<string, number[]>, key: string, x: number) => m.set(key, [...(m.get(key) ?? []), x]);
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const t of targets) {
        for (const n of [10, LONG]) {
          const f = filled.get(`${t.store}|${n}`)!;
          const config: RunnableConfig = { configurable: { thread_id: f.threadId } };
          // S3: a fresh checkpointer for each read, so nothing comes from its cache
          const reader = () => f.memory ?? t.saver(f.prefix);
          let saver = reader();
          let started = performance.now();
          await saver.getTuple(config);
          push(latest, `${t.name}|${n}`, performance.now() - started);
          await done(saver);
          saver = reader();
          started = performance.now();
          for await (const _ of saver.list(config, { limit: 10 })) void _;
          push(listed, `${t.name}|${n}`, performance.now() - started);
          await done(saver);
        }
      }
    }
    const m = (map: Map<string, number[]>, t: Target, n: number) => median(map.get(`${t.name}|${n}`)!);
    console.log(`\n### Reads of a long thread, ms (load average ${load()})\n`);
    console.log(
      `| saver | getTuple latest, 10 | getTuple latest, ${LONG} | ${LONG} ÷ 10 | list(10), 10 | list(10), ${LONG} | ${LONG} ÷ 10 |`,
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const t of targets) {
      const [l10, lN, s10, sN] = [m(latest, t, 10), m(latest, t, LONG), m(listed, t, 10), m(listed, t, LONG)];
      console.log(
        `| ${t.name} | ${l10.toFixed(1)} | ${lN.toFixed(1)} | ${ratio(lN, l10)} | ${s10.toFixed(1)} | ${sN.toFixed(1)} | ${ratio(sN, s10)} |`,
      );
    }
  }

  // ---- 3. concurrent threads -----------------------------------------------------------------
  if (PARTS.has("concurrent")) {
    const THREADS = 50;
    const STEPS = 20;
    const State = Annotation.Root({
      log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
      i: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
    });
    const loop = (saver: BaseCheckpointSaver) =>
      new StateGraph(State)
        .addNode("step", (s) => ({ log: [`step ${s.i}: ${"an observation ".repeat(10)}`], i: s.i + 1 }))
        .addEdge(START, "step")
        .addConditionalEdges("step", (s) => (s.i >= STEPS ? END : "step"))
        .compile({ checkpointer: saver });
    const wall = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r += 1) {
      for (const t of targets) {
        const saver = t.saver();
        const graph = loop(saver);
        const started = performance.now();
        await Promise.all(
          Array.from({ length: THREADS }, () =>
            graph.invoke({ log: [] }, { configurable: { thread_id: randomUUID() }, durability: "sync" }),
          ),
        );
        wall.set(t.name, [...(wall.get(t.name) ?? []), performance.now() - started]);
        await done(saver);
      }
    }
    const ms = (t: Target | undefined) => (t && wall.has(t.name) ? median(wall.get(t.name)!) : undefined);
    console.log(
      `\n### ${THREADS} threads × ${STEPS} supersteps at once, one saver, \`durability: "sync"\` (load average ${load()})\n`,
    );
    console.log("| saver | wall time, s | supersteps / s | ÷ PostgresSaver |\n| --- | --- | --- | --- |");
    for (const t of targets) {
      const w = ms(t)!;
      console.log(
        `| ${t.name} | ${(w / 1000).toFixed(2)} | ${((THREADS * STEPS * 1000) / w).toFixed(0)} | ${ratio(w, ms(postgresOf(t)))} |`,
      );
    }
  }

  // ---- 4. large states against raw S3 --------------------------------------------------------
  if (PARTS.has("large")) {
    const large = targets.filter((t) => t.delayMs === 0 && t.store !== "s3-versioned");
    // PostgresSaver reads a checkpoint's blobs as an array_agg of bytea, which node-postgres parses
    // as text: measured here at about 1 MB/s and some 80× the state in RSS at 10 MB, so 100 MB
    // would take minutes and gigabytes. Larger states skip it (POSTGRES_MAX_MB raises the limit).
    const POSTGRES_MAX_MB = Number(process.env.POSTGRES_MAX_MB ?? 10);
    const runs = (t: Target, mb: number) => t.store !== "postgres" || mb <= POSTGRES_MAX_MB;
    console.log(
      `\n### Large states: put and getTuple, no added delay, MB/s of the serialized state, peak RSS growth of the process (load average ${load()})\n`,
    );
    console.log(
      "| state | saver | put MB/s | getTuple MB/s | ÷ raw S3 (put / get) | ÷ raw S3, the serializer's time left out | " +
        "RSS growth, put | RSS growth, getTuple |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const mb of SIZES) {
      for (const compressible of [true, false]) {
        const text = stateText(mb, compressible);
        const bytes = Buffer.from(JSON.stringify(text));
        const put = new Map<string, { ms: number[]; rss: number[] }>();
        const get = new Map<string, { ms: number[]; rss: number[] }>();
        const record = (m: typeof put, name: string, x: { ms: number; rssMiB: number }) => {
          const e = m.get(name) ?? { ms: [], rss: [] };
          e.ms.push(x.ms);
          e.rss.push(x.rssMiB);
          m.set(name, e);
        };
        const RAW = "raw PutObject / GetObject";
        // what every saver pays before and after its own work: LangGraph's serializer on the value
        const SERDE = "LangGraph's serializer alone (dumpsTyped / loadsTyped)";
        const serde = new JsonPlusSerializer();
        for (let r = 0; r < ROUNDS; r += 1) {
          const dumped = await peakRss(() => serde.dumpsTyped(text));
          record(put, SERDE, dumped);
          const [type, serialized] = dumped.result;
          record(get, SERDE, await peakRss(() => serde.loadsTyped(type, serialized)));
          for (const t of large.filter((x) => runs(x, mb))) {
            const saver = t.saver();
            const config = { configurable: { thread_id: `big-${randomUUID()}`, checkpoint_ns: "" } };
            const checkpoint = {
              ...emptyCheckpoint(),
              id: uuid6(-1),
              channel_values: { doc: text },
              channel_versions: { doc: 1 },
            };
            // as LangGraph does before a thread's first put: its getTuple (which also makes a fresh
            // S3 checkpointer probe the bucket and read the thread's tombstone), not timed
            await saver.getTuple(config);
            const wrote = await peakRss(() => saver.put(config, checkpoint, meta, { doc: 1 }));
            record(put, t.name, wrote);
            await done(saver);
            // S3: a fresh checkpointer, so the state comes from the store and not from its cache;
            // its bucket probe and first connection are made on another thread first, not timed
            const reader = saver instanceof S3Checkpointer ? t.saver(saver.options.prefix) : saver;
            await reader.getTuple({ configurable: { thread_id: `warm-${randomUUID()}`, checkpoint_ns: "" } });
            record(get, t.name, await peakRss(() => reader.getTuple(wrote.result)));
            await done(reader);
          }
          const key = `raw/${randomUUID()}`;
          const body = { Bucket: buckets.unversioned, Key: key };
          record(
            put,
            RAW,
            await peakRss(() =>
              direct.send(new PutObjectCommand({ ...body, Body: bytes, ContentLength: bytes.length })),
            ),
          );
          record(
            get,
            RAW,
            await peakRss(async () => (await direct.send(new GetObjectCommand(body))).Body!.transformToByteArray()),
          );
        }
        const rate = (m: typeof put, name: string) => (bytes.length / 1024 / 1024 / median(m.get(name)!.ms)) * 1000;
        for (const name of [...large.map((t) => t.name), RAW, SERDE]) {
          const label = `${mb} MB ${compressible ? "compressible" : "random"}`;
          if (!put.has(name)) {
            console.log(`| ${label} | ${name} | skipped above ${POSTGRES_MAX_MB} MB (see the source) | | | | | |`);
            continue;
          }
          const vsRaw = `${ratio(rate(put, name), rate(put, RAW))} / ${ratio(rate(get, name), rate(get, RAW))}`;
          // the saver's own time: its median less the serializer's, against raw S3
          const own = (m: typeof put) => median(m.get(name)!.ms) - median(m.get(SERDE)!.ms);
          const raw = (m: typeof put) => median(m.get(RAW)!.ms);
          // (for the savers that do little besides serializing, the difference is within the noise)
          const ownVsRaw = name.startsWith("S3") ? `${ratio(raw(put), own(put))} / ${ratio(raw(get), own(get))}` : "—";
          console.log(
            `| ${label} | ${name} | ${rate(put, name).toFixed(0)} | ${rate(get, name).toFixed(0)} | ` +
              `${name === RAW || name === SERDE ? "— | —" : `${vsRaw} | ${ownVsRaw}`} | ${median(put.get(name)!.rss).toFixed(0)} MiB | ${median(get.get(name)!.rss).toFixed(0)} MiB |`,
          );
        }
      }
    }
  }
  console.log(`\nload average at the end ${load()}`);
} finally {
  for (const cleanup of cleanups) {
    try {
      await cleanup();
    } catch (error) {
      console.error("cleanup failed:", error);
    }
  }
}
