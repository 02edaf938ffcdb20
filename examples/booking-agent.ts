/**
 * The agent of the examples: it plans a booking, pauses at `interrupt()` for a human's approval,
 * then acts. The chat models are scripted (the same answers every run), so no API key is needed.
 */
import { HumanMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { END, MessagesAnnotation, START, StateGraph, interrupt } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";

export function bookingAgent(checkpointer: BaseCheckpointSaver) {
  const planner = new FakeListChatModel({
    responses: ["Plan: book the 09:10 train to Lyon and a table for two at 19:30."],
  });
  const actor = new FakeListChatModel({ responses: ["Done: the train and the table are booked."] });
  return new StateGraph(MessagesAnnotation)
    .addNode("plan", async (state) => ({ messages: [await planner.invoke(state.messages)] }))
    .addNode("approve", () => {
      // pauses the run; the decision arrives in a later invoke, possibly in another process
      const decision = interrupt({ question: "Book it?" }) as string;
      return { messages: [new HumanMessage(`Approval: ${decision}`)] };
    })
    .addNode("act", async (state) => ({ messages: [await actor.invoke(state.messages)] }))
    .addEdge(START, "plan")
    .addEdge("plan", "approve")
    .addEdge("approve", "act")
    .addEdge("act", END)
    .compile({ checkpointer });
}
