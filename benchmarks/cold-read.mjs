// One cold read, in a process of its own (run by benchmarks/cold.ts): the package as built
// (dist/), imported, an S3 client made, and the latest checkpoint of a thread read, which is
// what LangGraph's `graph.getState(config)` asks the checkpointer for. Prints one JSON line: the
// milliseconds since the process started at each step, and the S3 requests and round trips of
// the first read, from the checkpointer's own metrics.
import { performance } from "node:perf_hooks";

const sinceStart = () => performance.now();
const started = sinceStart();
const { S3Checkpointer, createClient } = await import("../dist/index.js");
const imported = sinceStart();
const { endpoint, bucket, prefix, thread } = JSON.parse(process.argv[2]);
const client = createClient({
  endpoint,
  region: process.env.S3_REGION ?? "us-east-1",
  credentials: {
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? "",
  },
});
const saver = new S3Checkpointer({ bucket, client, prefix });
const made = sinceStart();
const tuple = await saver.getTuple({ configurable: { thread_id: thread } });
const first = sinceStart();
if (!tuple) throw new Error(`thread ${thread} has no checkpoint`);
// the same read once more, by a second checkpointer on the warm client (nothing cached)
await new S3Checkpointer({ bucket, client, prefix }).getTuple({ configurable: { thread_id: thread } });
const second = sinceStart();

let requests = 0;
let roundTrips = 0;
for (const m of await saver.metrics.registry.getMetricsAsJSON()) {
  if (m.name === "langgraph_s3_s3_requests_total") for (const v of m.values) requests += v.value;
  if (m.name === "langgraph_s3_s3_round_trips_total") roundTrips = m.values[0]?.value ?? 0;
}
client.destroy();
console.log(JSON.stringify({ started, imported, made, first, second, requests, roundTrips }));
