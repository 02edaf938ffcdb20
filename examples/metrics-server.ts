/**
 * An agent whose checkpointer's Prometheus metrics are served on http://127.0.0.1:9464/metrics,
 * next to Node's default process metrics, from one registry of your own.
 *
 *   npx tsx examples/metrics-server.ts          (needs the S3_* variables, see quickstart.ts)
 *   curl -s http://127.0.0.1:9464/metrics | grep langgraph_s3_
 */
import http from "node:http";
import { HumanMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { END, MessagesAnnotation, START, StateGraph } from "@langchain/langgraph";
import { Registry, collectDefaultMetrics } from "prom-client";
import { S3Checkpointer } from "langgraph-checkpoint-s3";
import { exampleClient } from "./s3-client.js";

const registry = new Registry();
collectDefaultMetrics({ register: registry });

const checkpointer = new S3Checkpointer({
  bucket: process.env.LANGGRAPH_S3_BUCKET ?? "langgraph-metrics-example",
  prefix: "metrics-example/",
  client: exampleClient(),
  metrics: { registry },
  // pino works as it is; console stands in here
  logger: {
    debug() {},
    info: (o, m) => console.log(m, o),
    warn: (o, m) => console.warn(m, o),
    error: (o, m) => console.error(m, o),
  },
  slowOperationMs: 1000,
});
await checkpointer.setup({ createBucket: true });

const model = new FakeListChatModel({ responses: ["Sure.", "Done.", "Anything else?"] });
const graph = new StateGraph(MessagesAnnotation)
  .addNode("agent", async (state) => ({ messages: [await model.invoke(state.messages)] }))
  .addEdge(START, "agent")
  .addEdge("agent", END)
  .compile({ checkpointer });

const server = http.createServer(async (req, res) => {
  if (req.url !== "/metrics") {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": registry.contentType }).end(await registry.metrics());
});
server.listen(9464, "127.0.0.1");

for (let i = 0; i < 5; i += 1) {
  await graph.invoke(
    { messages: [new HumanMessage(`request ${i}`)] },
    { configurable: { thread_id: `metrics-${i % 2}` } },
  );
}
const text = await (await fetch("http://127.0.0.1:9464/metrics")).text();
console.log(
  text
    .split("\n")
    .filter((l) => l.startsWith("langgraph_s3_s3_requests_total") || l.startsWith("langgraph_s3_operations_total"))
    .join("\n"),
);
if (process.argv.includes("--serve")) {
  console.log("serving http://127.0.0.1:9464/metrics; Ctrl-C to stop");
} else {
  server.close();
  await checkpointer.close();
}
