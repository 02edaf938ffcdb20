/**
 * What client-side encryption costs: put and getTuple (fresh checkpointer, nothing cached) of
 * one state of 1 MB and 100 MB, with and without `encryption`, interleaved, medians of a few
 * rounds. A benchmark, not a test: numbers depend on the machine.
 *
 *   npm run bench:encryption   (starts a local S3 server, runs this, stops it)
 *   ROUNDS=5 SIZES=1,100 S3_ENDPOINT=… S3_ACCESS_KEY_ID=… S3_SECRET_ACCESS_KEY=… npx tsx benchmarks/encryption.ts
 */
import { randomUUID } from "node:crypto";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { S3Checkpointer, generateKey, zstdImplementation } from "../src/index.js";
import { serverFromEnv, stateText } from "./helpers/setup.js";

const { endpoint, client } = serverFromEnv("bench:encryption");
const rounds = Number(process.env.ROUNDS ?? 3);
const sizes = (process.env.SIZES ?? "1,100").split(",").map(Number);
const bucket = `bench-enc-${randomUUID().slice(0, 8)}`;
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const encryption = { keys: { k: generateKey() }, currentKeyId: "k" };
const meta = { source: "loop" as const, step: 0, parents: {} };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`node ${process.version}, zstd: ${zstdImplementation}, ${rounds} rounds, store ${endpoint}`);
console.log("| state | mode | put ms (MB/s) | getTuple ms (MB/s) |\n| --- | --- | --- | --- |");
for (const mb of sizes) {
  const value = stateText(mb);
  const times: Record<string, { put: number[]; get: number[] }> = {
    plain: { put: [], get: [] },
    encrypted: { put: [], get: [] },
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
      let t = performance.now();
      const config = await writer.put({ configurable: { thread_id: "t", checkpoint_ns: "" } }, checkpoint, meta, {
        doc: 1,
      });
      times[mode]!.put.push(performance.now() - t);
      const reader = new S3Checkpointer(opts);
      t = performance.now();
      await reader.getTuple(config);
      times[mode]!.get.push(performance.now() - t);
    }
  }
  for (const mode of ["plain", "encrypted"] as const) {
    const put = median(times[mode]!.put);
    const get = median(times[mode]!.get);
    const rate = (ms: number) => ((mb / ms) * 1000).toFixed(0);
    console.log(`| ${mb} MB | ${mode} | ${put.toFixed(0)} (${rate(put)}) | ${get.toFixed(0)} (${rate(get)}) |`);
  }
}
