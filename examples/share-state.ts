/**
 * Sharing agent state through a signed URL. Process A runs an agent until it needs a human's
 * approval, shares the paused state and prints the URL. Process B has no S3 credentials and
 * keeps its state in LangGraph's MemorySaver: it imports the URL and finishes the run.
 *
 *   npm run example:share                       local S3 server + both processes
 *   npx tsx examples/share-state.ts share        prints the URL (last line of stdout)
 *   SHARE_URL=… npx tsx examples/share-state.ts receive
 *
 * Process A needs S3 (S3_ENDPOINT / S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY for a local server,
 * or the AWS SDK's usual environment). Process B needs nothing but the URL. The URL is the
 * capability: whoever has it can read the state until it expires, so send it privately.
 */
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { Command, MemorySaver } from "@langchain/langgraph";
import { S3Checkpointer, importShared } from "langgraph-checkpoint-s3";
import { exampleClient } from "./s3-client.js";
import { bookingAgent } from "./booking-agent.js";

/** The same agent on both sides; only the checkpointer differs. */
const agent = bookingAgent;
const step = process.argv[2];
const log = (line: string) => console.error(`[process ${process.pid}] ${line}`);

if (step === "share") {
  const bucket = process.env.LANGGRAPH_S3_BUCKET ?? "langgraph-share-example";
  const checkpointer = new S3Checkpointer({
    bucket,
    prefix: "share-example/",
    client: exampleClient(),
  });
  // the lifecycle rule also expires share bundles a day after their URLs
  await checkpointer.setup({ createBucket: true, lifecycle: {} });
  const config = { configurable: { thread_id: "trip-planning" } };
  await checkpointer.purgeThread("trip-planning"); // start the example from a clean thread
  await agent(checkpointer).invoke(
    { messages: [new HumanMessage("Get me to Lyon tomorrow morning, dinner for two.")] },
    config,
  );
  log(
    `paused; the agent asks: ${JSON.stringify((await agent(checkpointer).getState(config)).tasks[0]?.interrupts[0]?.value)}`,
  );
  const { url, shareId, expiresAt } = await checkpointer.share(config, { expiresIn: 600, history: 2 });
  log(`shared as ${shareId}, until ${expiresAt.toISOString()}; the key is in the URL's #fragment, which S3 never sees`);
  console.log(url);
  await checkpointer.close();
} else if (step === "receive") {
  const url = process.env.SHARE_URL;
  if (!url) throw new Error("set SHARE_URL to the URL `share` printed");
  if (process.env.S3_ACCESS_KEY_ID || process.env.AWS_ACCESS_KEY_ID)
    log("note: S3 credentials are set, but nothing here uses them");
  const memory = new MemorySaver();
  const config = await importShared(url, { into: memory, threadId: "from-a-colleague" });
  const graph = agent(memory);
  const paused = await graph.getState(config);
  log(`imported into a MemorySaver: paused before ${paused.next.join(", ")}`);
  const result = await graph.invoke(new Command({ resume: "yes, go ahead" }), {
    configurable: { thread_id: "from-a-colleague" },
  });
  for (const m of result.messages) log(`  ${m instanceof AIMessage ? "agent" : "user "}: ${String(m.content)}`);
  log("finished here, without S3 credentials");
} else {
  console.error("usage: share-state.ts share|receive");
  process.exitCode = 2;
}
