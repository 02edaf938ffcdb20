/**
 * Property test against the real S3 server: arbitrary thread ids (lone surrogates included),
 * namespaces, channel names (Object.prototype's member names included) and values go through
 * put / putWrites / getTuple / list / deleteThread of S3Checkpointer and of LangGraph's
 * MemorySaver; both must give the same answers. `FC_RUNS` raises the number of runs.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import {
  MemorySaver,
  emptyCheckpoint,
  uuid6,
  type BaseCheckpointSaver,
  type Checkpoint,
} from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { S3Checkpointer } from "../../src/index.js";
import { bucketsForFile, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("prop", client);
const RUNS = Number(process.env.FC_RUNS ?? 12);

const name = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.constantFrom(
    "constructor",
    "toString",
    "__proto__",
    "hasOwnProperty",
    "valueOf",
    "",
    ".",
    "..",
    "a/b",
    "%2F",
    "~",
  ),
);
/** MemorySaver refuses these as thread, namespace and task ids (it keys plain objects by them). */
const MEMORY_SAVER_RESERVED = new Set(["__proto__", "constructor", "prototype"]);
const keyName = name.filter((n) => !MEMORY_SAVER_RESERVED.has(n) && n !== "");
/**
 * Where MemorySaver (1.2) itself goes wrong, it cannot judge: it keys a task's writes by
 * `WRITES_IDX_MAP[channel] || idx` on a plain object, so writes to `constructor` or `toString`
 * collapse into one, and a `__proto__` value can become a prototype. Those names are tested
 * against this library alone in hardening.test.ts.
 */
const isPrototypeName = (n: string) => n in Object.prototype;
const valueName = name.filter((n) => n !== "__proto__");
const writeName = name.filter((n) => !isPrototypeName(n));
const id = fc.oneof(
  fc.string({ unit: "binary", minLength: 0, maxLength: 20 }),
  fc.string({ unit: "grapheme", minLength: 150, maxLength: 200 }),
);
const UNENCODABLE = Symbol("unencodable");
const unencodable = (values: [string, unknown][]) =>
  values.some(([, v]) => typeof v === "object" && v !== null && UNENCODABLE in v);
const value: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constant(undefined),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.date({ noInvalidDate: true }),
  fc.array(fc.integer(), { maxLength: 5 }).map((a) => new Map(a.map((n) => [String(n), n]))),
  fc.string({ maxLength: 2000 }).map((s) => ({ big: s.repeat(3) })),
  // a value no serializer can encode (its getter throws): S3Checkpointer must refuse the call
  fc.constant(undefined).map(() => ({
    [UNENCODABLE]: true,
    get boom(): never {
      throw new Error("unencodable");
    },
    // how fast-check prints it in a counterexample (its printer would call the getter)
    [fc.toStringMethod]: () => "{ get boom() { throw } }",
  })),
);
const scenario = fc.record({
  thread: id,
  ns: fc.oneof(fc.constant(""), keyName),
  steps: fc.array(
    fc.record({
      values: fc.uniqueArray(fc.tuple(valueName, value), { selector: ([k]) => k, maxLength: 4 }),
      writes: fc.array(fc.tuple(writeName, value), { maxLength: 3 }),
      task: keyName,
    }),
    { minLength: 1, maxLength: 3 },
  ),
  deleteAtEnd: fc.boolean(),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

/**
 * A call with a value no serializer can encode. S3Checkpointer must refuse it with a typed error
 * and write nothing; MemorySaver cannot judge it (1.2 keeps half of such a call: the writes
 * before the bad one, or a checkpoint it can no longer read), so it is not asked.
 */
async function refuse(saver: BaseCheckpointSaver, call: () => Promise<unknown>): Promise<void> {
  if (saver instanceof S3Checkpointer) await expect(call()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
}

/** What a saver answers for a scenario: every tuple, newest first, the latest, what it refused. */
async function play(saver: BaseCheckpointSaver, s: Scenario) {
  let config = { configurable: { thread_id: s.thread, checkpoint_ns: s.ns } as Record<string, unknown> };
  let version = 0;
  const refused: string[] = [];
  for (const step of s.steps) {
    version += 1;
    const values = Object.fromEntries(step.values);
    const checkpoint: Checkpoint = {
      ...emptyCheckpoint(),
      id: uuid6(-1),
      channel_values: values,
      channel_versions: Object.fromEntries(step.values.map(([k]) => [k, version])),
    };
    const metadata = { source: "loop" as const, step: version, parents: {} };
    if (unencodable(step.values)) {
      await refuse(saver, () => saver.put(config, checkpoint, metadata, { ...checkpoint.channel_versions }));
      refused.push(`put ${version}`);
      continue;
    }
    config = (await saver.put(config, checkpoint, metadata, { ...checkpoint.channel_versions })) as typeof config;
    const writes = step.writes as [string, unknown][];
    if (unencodable(writes)) {
      await refuse(saver, () => saver.putWrites(config, writes, step.task));
      refused.push(`putWrites ${version}`);
    } else if (writes.length > 0) await saver.putWrites(config, writes, step.task);
  }
  const view = (t: { checkpoint: Checkpoint; pendingWrites?: unknown[]; metadata?: unknown } | undefined) =>
    t && {
      values: t.checkpoint.channel_values,
      versions: t.checkpoint.channel_versions,
      writes: t.pendingWrites,
      metadata: t.metadata,
    };
  const listed = [];
  for await (const t of saver.list({ configurable: { thread_id: s.thread, checkpoint_ns: s.ns } }))
    listed.push(view(t));
  const latest = view(await saver.getTuple({ configurable: { thread_id: s.thread, checkpoint_ns: s.ns } }));
  let afterDelete: unknown = "not deleted";
  if (s.deleteAtEnd) {
    await saver.deleteThread(s.thread);
    afterDelete = await saver.getTuple({ configurable: { thread_id: s.thread, checkpoint_ns: s.ns } });
  }
  return { listed, latest, afterDelete, refused };
}

describe.each(["versioned", "unversioned"] as const)(
  "S3Checkpointer answers as MemorySaver does (%s bucket)",
  (kind) => {
    it("for arbitrary ids, namespaces, channel names and values", async () => {
      const saver = new S3Checkpointer({
        bucket: buckets[kind],
        client,
        prefix: `prop/${randomUUID()}/`,
        inlineThresholdBytes: 256,
      });
      await fc.assert(
        fc.asyncProperty(scenario, async (s) => {
          // a fresh thread per run: the same generated id may come twice
          const run = { ...s, thread: `${randomUUID()}${s.thread}` };
          const expected = await play(new MemorySaver(), run);
          const actual = await play(saver, run);
          expect(actual).toEqual(expected);
        }),
        { numRuns: RUNS },
      );
    }, 120_000);
  },
);
