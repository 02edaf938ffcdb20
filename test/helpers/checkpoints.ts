/** Checkpoints for tests: metadata of a loop step, and a checkpoint of given channel values. */
import { emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";

export const meta = { source: "loop" as const, step: 0, parents: {} };

/** A new checkpoint holding `values`, every channel at `version`. */
export function checkpointOf(values: Record<string, unknown>, version: string | number = 1): Checkpoint {
  return {
    ...emptyCheckpoint(),
    id: uuid6(-1),
    channel_values: values,
    channel_versions: Object.fromEntries(Object.keys(values).map((k) => [k, version])),
  };
}
