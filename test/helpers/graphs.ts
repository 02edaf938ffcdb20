/** Graphs the operating tests share. */
import { Annotation, END, START, StateGraph, interrupt, type BaseCheckpointSaver } from "@langchain/langgraph";

/**
 * A graph that asks for approval in the middle, so a thread has pending writes and an interrupt:
 * plan, approve (interrupts; resume with `new Command({ resume: answer })`), act.
 */
export function approvalGraph(saver: BaseCheckpointSaver) {
  const State = Annotation.Root({
    log: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  });
  return new StateGraph(State)
    .addNode("plan", () => ({ log: ["planned"] }))
    .addNode("approve", () => {
      const answer = interrupt({ question: "go?" }) as string;
      return { log: [`approved: ${answer}`] };
    })
    .addNode("act", (s) => ({ log: [`acted after ${s.log.length}`] }))
    .addEdge(START, "plan")
    .addEdge("plan", "approve")
    .addEdge("approve", "act")
    .addEdge("act", END)
    .compile({ checkpointer: saver });
}
