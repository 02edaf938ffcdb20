/**
 * Quickstart: a LangGraph agent whose state lives in S3. It runs until it needs a human's
 * approval, and the process ends. A second process, with nothing in memory, picks the thread
 * up from S3 and finishes it.
 *
 *   npm run example                      local S3 server + both processes
 *   npx tsx examples/quickstart.ts start   then   npx tsx examples/quickstart.ts resume
 *
 * Needs S3: S3_ENDPOINT / S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY for a local server, or the
 * AWS SDK's usual environment for AWS. The chat model is scripted: no API key needed.
 */
import { AIMessage, HumanMessage } from "@langchain/core/messages";
import { Command } from "@langchain/langgraph";
import { S3Checkpointer } from "langgraph-checkpoint-s3";
import { exampleClient } from "./s3-client.js";
import { bookingAgent } from "./booking-agent.js";

const bucket = process.env.LANGGRAPH_S3_BUCKET ?? "langgraph-quickstart";
const threadId = process.env.THREAD_ID ?? "quickstart-thread";

const checkpointer = new S3Checkpointer({
  bucket,
  prefix: "quickstart/",
  client: exampleClient(),
});

const graph = bookingAgent(checkpointer);

const config = { configurable: { thread_id: threadId } };
const step = process.argv[2] ?? "start";

if (step === "start") {
  // idempotent: safe at every start
  const caps = await checkpointer.setup({
    createBucket: true,
    versioning: true,
    lifecycle: { noncurrentVersionDays: 30 },
  });
  console.log(`bucket "${bucket}": versioning ${caps.versioning}, immutability by ${caps.immutability}`);
  await checkpointer.purgeThread(threadId); // start the example from a clean thread
  await graph.invoke({ messages: [new HumanMessage("Get me to Lyon tomorrow morning, dinner for two.")] }, config);
  const state = await graph.getState(config);
  console.log(`[process ${process.pid}] paused before: ${state.next.join(", ")}`);
  console.log(`[process ${process.pid}] the agent asks: ${JSON.stringify(state.tasks[0]?.interrupts[0]?.value)}`);
  console.log(`[process ${process.pid}] state is in s3://${bucket}/quickstart/; this process ends now.`);
} else if (step === "resume") {
  // a new process: nothing in memory, everything comes back from S3
  const paused = await graph.getState(config);
  if (paused.next.length === 0) throw new Error("nothing to resume: run `start` first");
  console.log(`[process ${process.pid}] found thread "${threadId}" paused before: ${paused.next.join(", ")}`);
  const result = await graph.invoke(new Command({ resume: "yes, go ahead" }), config);
  for (const m of result.messages) console.log(`  ${m instanceof AIMessage ? "agent" : "user "}: ${String(m.content)}`);
  let checkpoints = 0;
  for await (const _s of graph.getStateHistory(config)) checkpoints += 1;
  console.log(`[process ${process.pid}] finished; ${checkpoints} checkpoints in the thread's history.`);
  // soft delete, and undo it: S3 versions keep every checkpoint recoverable
  await checkpointer.deleteThread(threadId);
  console.log(
    `[process ${process.pid}] deleted: ${(await graph.getState(config)).values.messages === undefined ? "gone" : "still there"}`,
  );
  await checkpointer.restoreThread(threadId);
  console.log(
    `[process ${process.pid}] restored: ${(await graph.getState(config)).values.messages.length} messages back`,
  );
} else {
  console.error("usage: quickstart.ts start|resume");
  process.exitCode = 2;
}
await checkpointer.close();
