/**
 * Reading a call's `RunnableConfig`: thread id, namespace, checkpoint ids, each checked once,
 * with an `InvalidArgumentError` that names the call and the field.
 */

import type { RunnableConfig } from "@langchain/core/runnables";
import { getCheckpointId } from "@langchain/langgraph-checkpoint";
import { InvalidArgumentError } from "./errors.js";
import { assertCheckpointId } from "./layout.js";

/**
 * A thread id given to a thread verb. LangGraph's own savers take numbers too (the id becomes
 * part of a key as text), so a finite number is its decimal string.
 */
export function requireThreadId(thread: unknown, op: string): string {
  if (typeof thread === "number" && Number.isFinite(thread)) return String(thread);
  if (typeof thread !== "string") {
    throw new InvalidArgumentError(
      `${op}: thread_id must be a string; got ${thread === null ? "null" : typeof thread}`,
    );
  }
  return thread;
}

/** `configurable.thread_id`, `undefined` when absent (a read of every thread, or of none). */
export function optionalThread(config: RunnableConfig): string | undefined {
  const thread = config?.configurable?.thread_id as unknown;
  if (thread === undefined || thread === null) return undefined;
  return requireThreadId(thread, "config.configurable");
}

/** `configurable.thread_id`, which a write cannot do without. */
export function requireThread(config: RunnableConfig, op: string): string {
  const thread = optionalThread(config);
  if (thread === undefined) {
    throw new InvalidArgumentError(
      `${op}(): config.configurable.thread_id is required, e.g. graph.invoke(input, { configurable: { thread_id: "my-thread" } })`,
    );
  }
  return thread;
}

/** `configurable.checkpoint_ns`; `undefined` when absent (every namespace, for `list`). */
export function namespaceOf(config: RunnableConfig): string | undefined {
  const ns = config?.configurable?.checkpoint_ns as unknown;
  if (ns === undefined || ns === null) return undefined;
  if (typeof ns !== "string")
    throw new InvalidArgumentError(`config.configurable.checkpoint_ns must be a string; got ${typeof ns}`);
  return ns;
}

/** `configurable.checkpoint_id`, checked; `undefined` when absent or empty. */
export function checkpointIdOf(config: RunnableConfig, field = "checkpoint_id"): string | undefined {
  const id = getCheckpointId(config);
  if (!id) return undefined;
  assertCheckpointId(id, field);
  return id;
}

/** `configurable.s3_version_id`: a stored version asked for by id; `undefined` when absent. */
export function versionIdOf(config: RunnableConfig): string | undefined {
  const v = config?.configurable?.s3_version_id as unknown;
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string")
    throw new InvalidArgumentError(`config.configurable.s3_version_id must be a string; got ${typeof v}`);
  return v;
}
