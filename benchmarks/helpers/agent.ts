/** The tool-using agent the benchmarks run: a model node and a tool node, a growing message list. */
import { Annotation, END, START, StateGraph, type BaseCheckpointSaver } from "@langchain/langgraph";

const State = Annotation.Root({
  messages: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
  turn: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
});

/** The agent compiled with `saver`: `steps` supersteps per run (model and tool taking turns). */
export function agentLoop(saver: BaseCheckpointSaver, steps: number) {
  return new StateGraph(State)
    .addNode("model", (s) => ({
      messages: [`assistant ${s.turn}: ${"calls a tool with some arguments ".repeat(12)}`],
      turn: s.turn + 1,
    }))
    .addNode("tool", (s) => ({ messages: [`tool ${s.turn}: ${"result line ".repeat(40)}`] }))
    .addEdge(START, "model")
    .addConditionalEdges("model", (s) => (s.turn >= steps / 2 ? END : "tool"))
    .addEdge("tool", "model")
    .compile({ checkpointer: saver });
}
