/**
 * What client-side encryption costs: put and getTuple (fresh checkpointer, nothing cached) of
 * one state of 1 MB and 100 MB, with and without `encryption`, interleaved, medians of a few
 * rounds, with the growth of the process's peak RSS during each call (Linux: the kernel's
 * high-water mark, reset before each call; elsewhere sampled every 10 ms). A benchmark, not a
 * test: numbers depend on the machine. Run with `--expose-gc` (NODE_OPTIONS) so each call
 * starts after a collection.
 *
 *   npm run bench:encryption   (starts a local S3 server, runs this, stops it)
 *   ROUNDS=5 SIZES=1,100 S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npx tsx benchmarks/encryption.ts
 */
import { randomUUID } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer, generateKey, zstdImplementation } from "../src/index.js";
import { median, peakRss } from "./helpers/measure.js";
import { serverFromEnv, stateText } from "./helpers/setup.js";

const { endpoint, client } = serverFromEnv("bench:encryption");
const rounds = Number(process.env.ROUNDS ?? 3);
const sizes = (process.env.SIZES ?? "1,100").split(",").map(Number);
const bucket = `bench-enc-${randomUUID().slice(0, 8)}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const encryption = { keys: { k: generateKey() }, currentKeyId: "k" };
const meta = { source: "loop" as const, step: 0, parents: {} };

console.log(`node ${process.version}, zstd: ${zstdImplementation}, ${rounds} rounds, store ${endpoint}`);
console.log(
  "| state | mode | put ms (MB/s) | getTuple ms (MB/s) | RSS growth during put | during getTuple |\n" +
    "| --- | --- | --- | --- | --- | --- |",
);
for (const mb of sizes) {
  const value = stateText(mb);
  const times: Record<string, { put: number[]; get: number[]; putRss: number[]; getRss: number[] }> = {
    plain: { put: [], get: [], putRss: [], getRss: [] },
    encrypted: { put: [], get: [], putRss: [], getRss: [] },
  };
  for (let r = 0; r < rounds; r += 1) {
    for (const mode of ["plain", "encrypted"] as const) {
      const prefix = `bench/${randomUUID()}/`;
      const opts = { bucket, client, prefix, ...(mode === "encrypted" ? { encryption } : {}) };
      const writer = new S3Checkpointer(opts);
      const checkpoint = {
        ...emptyCheckpoint(),
        id: uuid6(-1),
        channel_values: { doc: value },
        channel_versions: { doc: 1 },
      };
      const put = await peakRss(() =>
        writer.put({ configurable: { thread_id: "t", checkpoint_ns: "" } }, checkpoint, meta, { doc: 1 }),
      );
      times[mode]!.put.push(put.ms);
      times[mode]!.putRss.push(put.rssMiB);
      const reader = new S3Checkpointer(opts);
      const get = await peakRss(() => reader.getTuple(put.result));
      times[mode]!.get.push(get.ms);
      times[mode]!.getRss.push(get.rssMiB);
    }
  }
  for (const mode of ["plain", "encrypted"] as const) {
    const { put, get, putRss, getRss } = times[mode]!;
    const [p, g] = [median(put), median(get)];
    const rate = (ms: number) => ((mb / ms) * 1000).toFixed(0);
    const mib = (xs: number[]) => `${median(xs).toFixed(0)} MiB`;
    console.log(
      `| ${mb} MB | ${mode} | ${p.toFixed(0)} (${rate(p)}) | ${g.toFixed(0)} (${rate(g)}) | ${mib(putRss)} | ${mib(getRss)} |`,
    );
  }
}
