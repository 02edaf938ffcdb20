/**
 * Request budgets: for each call of the design's budget table, the S3 requests and sequential
 * round trips it took, read from the checkpointer's own Prometheus metrics (exact on any
 * machine), next to the budget. Reads run on a fresh checkpointer, so nothing comes from cache.
 *
 *   npm run bench            (starts a local S3 server, runs this, stops it)
 *   S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npx tsx benchmarks/requests.ts
 *
 * Exits non-zero when a budget is exceeded, on either bucket. A purge's version listings are
 * budgeted at as many pages as the store makes of the thread's versions (counted by a plain
 * paged ListObjectVersions right before it): Ceph RGW sends shorter pages than the 1,000 asked.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer } from "../src/index.js";
import { KeyLayout } from "../src/layout.js";
import { serverFromEnv } from "./helpers/setup.js";

const { client } = serverFromEnv("bench");

interface Count {
  requests: number;
  roundTrips: number;
  byCommand: Record<string, number>;
}

async function count(saver: S3Checkpointer): Promise<Count> {
  const metrics = await saver.metrics.registry!.getMetricsAsJSON();
  const byCommand: Record<string, number> = {};
  let requests = 0;
  let roundTrips = 0;
  for (const m of metrics) {
    if (m.name === "langgraph_s3_s3_requests_total") {
      for (const v of m.values) {
        const cmd = String(v.labels.command);
        byCommand[cmd] = (byCommand[cmd] ?? 0) + v.value;
        requests += v.value;
      }
    }
    if (m.name === "langgraph_s3_s3_round_trips_total") roundTrips = m.values[0]?.value ?? 0;
  }
  return { requests, roundTrips, byCommand };
}

async function measure(saver: S3Checkpointer, fn: () => Promise<unknown>): Promise<Count> {
  const before = await count(saver);
  await fn();
  const after = await count(saver);
  const byCommand: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byCommand))
    if (v - (before.byCommand[k] ?? 0) > 0) byCommand[k] = v - (before.byCommand[k] ?? 0);
  return { requests: after.requests - before.requests, roundTrips: after.roundTrips - before.roundTrips, byCommand };
}

const meta = { source: "loop" as const, step: 0, parents: {} };
function cp(values: Record<string, unknown>, versions: Record<string, string>): Checkpoint {
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: values, channel_versions: versions };
}

interface Row {
  call: string;
  budgetRequests: number;
  budgetRoundTrips: number | undefined;
  measured: Count;
  /** the count depends on how long the store's version listing pages are (shorter on Ceph RGW) */
}

/**
 * A delete or purge gives the thread's tombstone a new token before it deletes anything (readers
 * see the thread gone at once) and after (a run still going is hidden): see src/tombstone.ts.
 */
/** The listing of `shares/` with which a purge finds the thread's shares to revoke. */
const SHARE_LISTING = 1;
const TOMBSTONE_WRITES = 2;

async function run(versioned: boolean): Promise<Row[]> {
  const bucket = `bench-${versioned ? "v" : "u"}-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  if (versioned)
    await client.send(
      new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
    );
  const prefix = "bench/";
  const make = () => new S3Checkpointer({ bucket, client, prefix, inlineThresholdBytes: 16 * 1024 });
  const saver = make();
  await saver.setup();
  const rows: Row[] = [];
  const thread = "bench-thread";
  const base = { configurable: { thread_id: thread, checkpoint_ns: "" } };

  // put below the inline threshold
  let config = await saver.put(base, cp({ a: "x" }, { a: "1" }), meta, { a: "1" });
  rows.push({
    call: "put (state below the inline threshold)",
    budgetRequests: 1,
    budgetRoundTrips: 1,
    measured: await measure(saver, async () => {
      config = await saver.put(config, cp({ a: "y" }, { a: "2" }), meta, { a: "2" });
    }),
  });

  // put with k = 3 large channels changed
  const k = 3;
  const big = Object.fromEntries(
    Array.from({ length: k }, (_v, i) => [`big${i}`, randomBytes(40_000).toString("base64")]),
  );
  const bigVersions = Object.fromEntries(Object.keys(big).map((c) => [c, "3"]));
  rows.push({
    call: `put (k = ${k} channels changed above the threshold)`,
    budgetRequests: 1 + k,
    budgetRoundTrips: 2,
    measured: await measure(saver, async () => {
      config = await saver.put(config, cp({ a: "y", ...big }, { a: "2", ...bigVersions }), meta, bigVersions);
    }),
  });

  // putWrites
  const W = 3;
  const writesMeasured: Count[] = [];
  for (let i = 0; i < W; i += 1) {
    writesMeasured.push(
      await measure(saver, () =>
        saver.putWrites(
          config,
          [
            ["ch", `value ${i}`],
            ["other", i],
          ],
          `task-${i}`,
          `~${i}`,
        ),
      ),
    );
  }
  rows.push({ call: "putWrites", budgetRequests: 1, budgetRoundTrips: 1, measured: writesMeasured[0]! });

  // reads on a fresh checkpointer: nothing cached
  const inlineThread = { configurable: { thread_id: "bench-inline", checkpoint_ns: "" } };
  const ic = await saver.put(inlineThread, cp({ a: "small", b: [1, 2, 3] }, { a: "1", b: "1" }), meta, {
    a: "1",
    b: "1",
  });
  for (let i = 0; i < W; i += 1) await saver.putWrites(ic, [["a", `w${i}`]], `task-${i}`, `~${i}`);
  const fresh = make();
  rows.push({
    call: `getTuple latest (W = ${W} write objects)`,
    budgetRequests: 3 + W,
    budgetRoundTrips: 3,
    measured: await measure(fresh, () => fresh.getTuple(inlineThread)),
  });
  const fresh2 = make();
  rows.push({
    call: `getTuple by id (W = ${W})`,
    budgetRequests: 3 + W,
    budgetRoundTrips: 3,
    measured: await measure(fresh2, () => fresh2.getTuple(ic)),
  });
  // a checkpoint whose large channels live in objects of their own: one GET each, in parallel
  const fresh3 = make();
  rows.push({
    call: `getTuple latest (W = ${W}, k = ${k} channel objects)`,
    budgetRequests: 3 + W + k,
    budgetRoundTrips: 3,
    measured: await measure(fresh3, () => fresh3.getTuple(base)),
  });

  // list({limit: N}) over a thread of 50 checkpoints with 2 write objects each
  const listThread = { configurable: { thread_id: "bench-list", checkpoint_ns: "" } };
  let lc = await saver.put(listThread, cp({ n: 0 }, { n: "1" }), meta, { n: "1" });
  for (let i = 1; i < 50; i += 1) {
    lc = await saver.put(lc, cp({ n: i }, { n: String(i + 1) }), meta, { n: String(i + 1) });
    await saver.putWrites(lc, [["n", i]], "t1");
    await saver.putWrites(lc, [["n", -i]], "t2");
  }
  const N = 10;
  const reader3 = make();
  rows.push({
    call: `list({ limit: ${N} }), 2 write objects each`,
    budgetRequests: Math.ceil(N / 1000) + 1 + N + 2 * N,
    budgetRoundTrips: 3,
    measured: await measure(reader3, async () => {
      let n = 0;
      for await (const _t of reader3.list(listThread, { limit: N })) n += 1;
      if (n !== N) throw new Error(`listed ${n}`);
    }),
  });

  // getDeltaChannelHistory over d ancestors
  const reader4 = make();
  const d = 49;
  rows.push({
    call: `getDeltaChannelHistory over ${d} ancestors`,
    // ⌈keys/1000⌉ listings, then every older record and the on-path write objects, in parallel
    budgetRequests: Math.ceil((3 * d) / 1000) + d + 2 * d,
    budgetRoundTrips: undefined,
    measured: await measure(reader4, () =>
      reader4.getDeltaChannelHistory({ config: lc, channels: ["missing-channel"] }),
    ),
  });

  // deleteThread of V objects
  const V = 1500;
  const delThread = "bench-delete";
  const cps = Array.from({ length: V }, () => cp({}, {}));
  for (let i = 0; i < V; i += 100)
    await Promise.all(
      cps.slice(i, i + 100).map((c) => saver.put({ configurable: { thread_id: delThread } }, c, meta, {})),
    );
  rows.push({
    call: `deleteThread (V = ${V} objects)`,
    // ⌈V/1000⌉ listings and deletes, and the thread's tombstone written before and after
    budgetRequests: 2 * Math.ceil(V / 1000) + TOMBSTONE_WRITES,
    budgetRoundTrips: undefined,
    measured: await measure(saver, () => saver.deleteThread(delThread)),
  });

  // purgeThread of a thread of V objects (on a versioned bucket soft-deleted first: V versions
  // and V delete markers)
  const purgeThread = "bench-purge";
  for (let i = 0; i < V; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, V - i) }, () =>
        saver.put({ configurable: { thread_id: purgeThread } }, cp({}, {}), meta, {}),
      ),
    );
  }
  if (versioned) await saver.deleteThread(purgeThread);
  const purgeV = versioned ? 2 * V : V;
  const pages = versioned ? await versionPages(bucket, new KeyLayout(prefix).thread(purgeThread)) : 0;
  rows.push({
    call: `purgeThread (${purgeV} ${versioned ? `versions and delete markers, ${pages} listing pages` : "objects"})`,
    // the listing (⌈V/1000⌉ pages of objects, or as many pages as the store makes of the
    // versions) and ⌈V/1000⌉ deletes, one listing that confirms nothing is left, the thread's
    // tombstone written before and after, and one listing of the shares (none here; each share
    // under the prefix would add one read of its description, and a thread's own its revoke)
    budgetRequests:
      (versioned ? pages : Math.ceil(purgeV / 1000)) + Math.ceil(purgeV / 1000) + 1 + TOMBSTONE_WRITES + SHARE_LISTING,
    budgetRoundTrips: undefined,
    measured: await measure(saver, () => saver.purgeThread(purgeThread)),
  });
  return rows;
}

/** The pages a plain ListObjectVersions (1,000 keys asked per page) takes for `prefix`. */
async function versionPages(bucket: string, prefix: string): Promise<number> {
  let pages = 0;
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker, VersionIdMarker, MaxKeys: 1000 }),
    );
    pages += 1;
    if (!page.IsTruncated) return pages;
    KeyMarker = page.NextKeyMarker;
    VersionIdMarker = page.NextVersionIdMarker;
  }
}

function table(title: string, rows: Row[]): string {
  const lines = [
    `### ${title}`,
    "",
    "| call | S3 requests (budget) | round trips (budget) | commands |",
    "| --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const cmds = Object.entries(r.measured.byCommand)
      .map(([c, n]) => `${c}×${n}`)
      .join(", ");
    lines.push(
      `| ${r.call} | ${r.measured.requests} (≤ ${r.budgetRequests}) | ${r.measured.roundTrips} (${r.budgetRoundTrips === undefined ? "—" : `≤ ${r.budgetRoundTrips}`}) | ${cmds} |`,
    );
  }
  return lines.join("\n");
}

const unversioned = await run(false);
const versioned = await run(true);
console.log(table("Bucket with conditional create (AWS S3, MinIO; Ceph RGW unversioned)", unversioned));
console.log();
console.log(
  table("Versioned Ceph RGW bucket (no conditional create: the first version wins, readers list versions)", versioned),
);
const over = [...unversioned, ...versioned].filter(
  (r) =>
    r.measured.requests > r.budgetRequests ||
    (r.budgetRoundTrips !== undefined && r.measured.roundTrips > r.budgetRoundTrips),
);
if (over.length > 0) {
  console.error(`\nover budget: ${over.map((r) => r.call).join("; ")}`);
  process.exitCode = 1;
}
client.destroy();
