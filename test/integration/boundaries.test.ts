/**
 * Values at the library's size boundaries, against the real S3 server, compared with what
 * LangGraph's MemorySaver gives back for the same calls (same serde): the inline threshold, the
 * 1 MiB one-shot limit of zstd-codec (Node 20), the 8 MiB frame size where sealing streams
 * (STREAM_FRAME_BYTES), multipart uploads, the 1 MiB cipher chunk, `maxObjectBytes`; multi-byte
 * UTF-8 straddling those offsets, lone surrogates, `__proto__` keys, `Uint8Array` values (serde
 * type "bytes"), empty strings; with and without encryption, zstd and "none", versioned and
 * unversioned buckets; read back by the writing instance and by a fresh one without a cache.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import fc from "fast-check";
import {
  MemorySaver,
  emptyCheckpoint,
  uuid6,
  type BaseCheckpointSaver,
  type Checkpoint,
  type CheckpointTuple,
} from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { S3Checkpointer, generateKey, readShared, type S3CheckpointerOptions } from "../../src/index.js";
import { bucketsForFile, storeFacts, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("bounds", client);
const RUNS = Number(process.env.FC_RUNS ?? 3);

const KiB = 1024;
const MiB = 1024 * KiB;
/** The inline threshold of the small cases: small keeps them fast, the boundary is the same code. */
const INLINE = 64;
const encryption = { keys: { k1: generateKey() }, currentKeyId: "k1" };

interface Mode {
  bucket: "versioned" | "unversioned";
  codec: "zstd" | "none";
  encrypted: boolean;
}
const label = (m: Mode) => `${m.bucket} bucket, ${m.codec}${m.encrypted ? ", encrypted" : ""}`;
const ALL_MODES: Mode[] = (["versioned", "unversioned"] as const).flatMap((bucket) =>
  (["zstd", "none"] as const).flatMap((codec) => [false, true].map((encrypted) => ({ bucket, codec, encrypted }))),
);
/**
 * Modes of the large cases, where Node 20 spends seconds per read in LangGraph's serializer
 * alone: zstd frames through the streamed cipher on a versioned bucket, plain slices of the
 * plaintext on an unversioned one. The 1 MiB cipher chunks cut every encrypted payload alike.
 */
const LARGE_MODES: Mode[] = [
  { bucket: "versioned", codec: "zstd", encrypted: true },
  { bucket: "unversioned", codec: "none", encrypted: false },
];
const modes = (list: Mode[]) => list.filter((m) => m.bucket === "unversioned" || storeFacts().versioning);

/** A writing instance and a way to make fresh readers (no cache) of the same prefix. */
function saversFor(mode: Mode, options: Partial<S3CheckpointerOptions> = {}) {
  const base = {
    bucket: buckets[mode.bucket],
    client,
    prefix: `bounds/${randomUUID()}/`,
    compression: mode.codec,
    inlineThresholdBytes: INLINE,
    ...(mode.encrypted ? { encryption } : {}),
    ...options,
  };
  return {
    writer: new S3Checkpointer(base),
    fresh: () => new S3Checkpointer({ ...base, cacheMaxBytes: 0 }),
    /** another instance on the same prefix, with other options */
    other: (more: Partial<S3CheckpointerOptions>) => new S3Checkpointer({ ...base, ...more }),
    bucket: base.bucket,
    prefix: base.prefix,
  };
}

// ---- values of exact serialized sizes ------------------------------------------------------

/** Bytes of one character in LangGraph's JSON (a lone surrogate is escaped: `\ud800`). */
function jsonBytes(unit: string): number {
  return Buffer.byteLength(JSON.stringify(unit), "utf8") - 2;
}

/**
 * A string whose JSON (with its quotes) is exactly `bytes` long, `unit` starting `at` bytes into
 * that JSON: so a multi-byte character straddles a boundary of the serialized value (the
 * plaintext of a channel value stored on its own is exactly these bytes).
 */
function sizedString(bytes: number, unit = "", at = 1): string {
  const content = bytes - 2;
  if (content < 0) throw new Error(`no JSON string is ${bytes} bytes long`);
  const u = jsonBytes(unit);
  if (unit === "" || u > content) return "x".repeat(content);
  const before = Math.min(Math.max(at - 1, 0), content - u);
  const s = "x".repeat(before) + unit + "y".repeat(content - u - before);
  expect(Buffer.byteLength(JSON.stringify(s), "utf8")).toBe(bytes);
  return s;
}

/** A fresh Uint8Array (not a Buffer) of pseudo-random bytes (a 32-bit LCG: zstd cannot shrink them). */
function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = Math.imul(seed, 2654435761) >>> 0;
  for (let i = 0; i < n; i += 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Incompressible bytes, as a plain Uint8Array. */
function randomUint8(n: number): Uint8Array {
  const b = randomBytes(n);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}

/** An object with an own `__proto__` key, as JSON.parse makes it. */
function withProto(inner: unknown, rest: Record<string, unknown> = {}): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  Object.defineProperty(o, "__proto__", { value: inner, enumerable: true, writable: true, configurable: true });
  return Object.assign(o, rest);
}

// ---- what a saver gives back, in a form that compares fast and strictly --------------------

const hash = (b: Uint8Array) => createHash("sha256").update(b).digest("hex").slice(0, 20);

/**
 * A comparable picture of a value: long strings and byte arrays by length and digest (UTF-16 code
 * units, so lone surrogates count), byte arrays with their class (a Buffer is not a Uint8Array),
 * objects with their prototype and sorted own keys (`__proto__` included).
 */
function picture(v: unknown): unknown {
  if (typeof v === "string") return v.length > 256 ? { string: v.length, utf16: hash(Buffer.from(v, "utf16le")) } : v;
  if (v instanceof Uint8Array) return { class: v.constructor.name, bytes: v.byteLength, sha: hash(v) };
  if (Array.isArray(v)) return v.map(picture);
  if (v instanceof Map) return { map: [...v].map(([k, x]) => [picture(k), picture(x)]) };
  if (v instanceof Date) return { date: v.toISOString() };
  if (v !== null && typeof v === "object") {
    const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
    return {
      proto: proto === null ? null : (proto.constructor?.name ?? "?"),
      entries: Object.entries(v)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, picture(x)]),
    };
  }
  return v;
}

function view(t: CheckpointTuple | undefined) {
  return (
    t && {
      values: picture(t.checkpoint.channel_values),
      versions: t.checkpoint.channel_versions,
      writes: picture(t.pendingWrites),
      metadata: picture(t.metadata),
    }
  );
}

interface Step {
  /** every channel's value at this step */
  values: Record<string, unknown>;
  /** the channels whose version changes at this step (the others keep their version) */
  changed: string[];
  writes: [string, unknown][];
  task?: string;
}

/** Puts each step as a child of the last, with its writes; the checkpoint ids used. */
async function write(
  savers: BaseCheckpointSaver | ((step: number) => BaseCheckpointSaver),
  thread: string,
  steps: Step[],
  ids: string[],
): Promise<void> {
  let config: RunnableConfig = { configurable: { thread_id: thread, checkpoint_ns: "" } };
  const versions: Record<string, number> = {};
  let previous: Record<string, unknown> = {};
  for (const [i, step] of steps.entries()) {
    const newVersions: Record<string, number> = {};
    // a channel that lost its value gets a new version, as LangGraph gives a channel it empties
    const emptied = Object.keys(previous).filter((c) => !Object.hasOwn(step.values, c));
    for (const c of [...step.changed, ...emptied]) newVersions[c] = versions[c] = i + 1;
    previous = step.values;
    const checkpoint: Checkpoint = {
      ...emptyCheckpoint(),
      id: ids[i]!,
      channel_values: step.values,
      channel_versions: { ...versions },
    };
    const saver = typeof savers === "function" ? savers(i) : savers;
    config = await saver.put(config, checkpoint, { source: "loop", step: i, parents: {} }, newVersions);
    if (step.writes.length > 0) await saver.putWrites(config, step.writes, step.task ?? "task", "");
  }
}

type Call = "latest" | "byId" | "list";
const EVERY_CALL: readonly Call[] = ["latest", "byId", "list"];

/** What the saver answers about the thread: the latest tuple, each by id, the list (those asked). */
async function observe(saver: BaseCheckpointSaver, thread: string, ids: string[], calls = EVERY_CALL) {
  const configurable = { thread_id: thread, checkpoint_ns: "" };
  const out: Partial<Record<Call, unknown>> = {};
  if (calls.includes("list")) {
    const listed = [];
    for await (const t of saver.list({ configurable })) listed.push(view(t));
    out.list = listed;
  }
  if (calls.includes("byId")) {
    const byId = [];
    for (const id of ids)
      byId.push(view(await saver.getTuple({ configurable: { ...configurable, checkpoint_id: id } })));
    out.byId = byId;
  }
  if (calls.includes("latest")) out.latest = view(await saver.getTuple({ configurable }));
  return out;
}

const only = (answers: Partial<Record<Call, unknown>>, calls: readonly Call[]) =>
  Object.fromEntries(calls.map((c) => [c, answers[c]]));

/**
 * Writes `steps` to MemorySaver and to S3Checkpointer; the S3 writer and a fresh reader without
 * a cache must answer as MemorySaver does. `expected` replaces MemorySaver's answer where it
 * cannot judge in reasonable time; `light` asks the writer for the latest tuple only and the
 * fresh reader for the list only (large values: every read is tens of MiB, seconds on Node 20).
 */
async function sameAsMemory(
  mode: Mode,
  steps: Step[],
  how: { options?: Partial<S3CheckpointerOptions>; expected?: Partial<Record<Call, unknown>>; light?: boolean } = {},
) {
  const ids = steps.map(() => uuid6(-1));
  const thread = randomUUID();
  let memory = how.expected;
  if (memory === undefined) {
    const saver = new MemorySaver();
    await write(saver, thread, steps, ids);
    memory = await observe(saver, thread, ids);
  }
  const byWriter: readonly Call[] = how.light ? ["latest"] : EVERY_CALL;
  const byReader: readonly Call[] = how.light ? ["list"] : EVERY_CALL;
  const { writer, fresh, bucket, prefix } = saversFor(mode, how.options);
  try {
    await write(writer, thread, steps, ids);
    expect(await observe(writer, thread, ids, byWriter)).toStrictEqual(only(memory, byWriter));
    const reader = fresh();
    try {
      expect(await observe(reader, thread, ids, byReader)).toStrictEqual(only(memory, byReader));
    } finally {
      await reader.close();
    }
  } finally {
    await writer.close();
  }
  return stored(bucket, prefix);
}

/**
 * The objects under a prefix, by kind and name ("b/a": channel `a`'s own object, "w/r": regular
 * writes, "w/s1": a special write, "c": a record), with their ETags: a multipart upload's ends
 * in `-{parts}`.
 */
async function stored(bucket: string, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const res = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}threads/` }));
  expect(res.IsTruncated).toBeFalsy();
  for (const o of res.Contents ?? []) {
    const parts = o.Key!.slice(prefix.length).split("/");
    // threads/{thread}/b/{ns}/{channel}/{version} | threads/{thread}/n/{ns}/{id}/c | …/{id}/w/{task}/{r|sN}
    const name = parts[2] === "b" ? `b/${parts[4]}` : parts[5] === "c" ? "c" : `w/${parts[7]}`;
    out.set(out.has(name) ? `${name}#${out.size}` : name, o.ETag!.replaceAll('"', ""));
  }
  return out;
}

// ---- small values around the inline threshold: a property ---------------------------------

const UNITS = ["", "é", "中", "😀", "\ud800", "\udfff", '"', "\\", "\u0000"];
const SIZES = [2, 3, INLINE - 1, INLINE, INLINE + 1, 2 * INLINE];
const sized = fc
  .record({
    size: fc.constantFrom(...SIZES),
    unit: fc.constantFrom(...UNITS),
    at: fc.integer({ min: 0, max: 2 * INLINE }),
  })
  .map(({ size, unit, at }) => sizedString(size, unit, at));
const byteArray = fc
  .constantFrom(0, 1, INLINE - 1, INLINE, INLINE + 1)
  .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
const value: fc.Arbitrary<unknown> = fc.oneof(
  sized,
  byteArray,
  fc.constant(""),
  fc.tuple(sized, byteArray).map(([s, b]) => withProto(s, { list: [s, b, ""], nested: { "": s } })),
  fc.tuple(sized, sized, fc.constantFrom(...UNITS)).map(([a, b, unit]) => ({ a, deep: [[{ [`k${unit}`]: b }]] })),
);
/** MemorySaver reads every write as JSON: a top-level Uint8Array write it cannot give back. */
const writeValue = value.filter((v) => !(v instanceof Uint8Array));
const CHANNELS = ["a", "b", "c"];
const steps = fc
  .array(
    fc.record({
      values: fc.uniqueArray(fc.tuple(fc.constantFrom(...CHANNELS), value), { selector: ([k]) => k, maxLength: 3 }),
      // which of the previous values stay as they were (same version, no write)
      keep: fc.subarray(CHANNELS),
      writes: fc.array(fc.tuple(fc.constantFrom("a", "b", "__error__", "__interrupt__"), writeValue), { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 3 },
  )
  .map((raw) => {
    const out: Step[] = [];
    let previous: Record<string, unknown> = {};
    for (const r of raw) {
      const values: Record<string, unknown> = {};
      const changed: string[] = [];
      for (const c of r.keep) if (Object.hasOwn(previous, c)) values[c] = previous[c];
      for (const [c, v] of r.values) {
        if (Object.hasOwn(values, c)) continue;
        values[c] = v;
        changed.push(c);
      }
      out.push({ values, changed, writes: r.writes });
      previous = values;
    }
    return out;
  });

describe.each(modes(ALL_MODES).map((m) => [label(m), m] as const))("around the inline threshold (%s)", (_, mode) => {
  it("values answer as MemorySaver's do", async () => {
    await fc.assert(
      fc.asyncProperty(steps, async (s) => {
        await sameAsMemory(mode, s);
      }),
      { numRuns: RUNS },
    );
  }, 60_000);
});

// ---- explicit cases ------------------------------------------------------------------------

/**
 * What MemorySaver gives back for one step whose values it cannot take in reasonable time (it
 * turns a Uint8Array into a JSON array of numbers: 10 s for 8 MiB): the values as they were,
 * a Uint8Array as a Uint8Array, the writes in the order they were given (one task, regular
 * writes only).
 */
function asGiven(step: Step) {
  const v = {
    values: picture(step.values),
    versions: Object.fromEntries(step.changed.map((c) => [c, 1])),
    writes: picture(step.writes.map(([c, x]) => [step.task ?? "task", c, x])),
    metadata: picture({ source: "loop", step: 0, parents: {} }),
  };
  return { latest: v, byId: [v], list: [v] };
}

const one = (values: Record<string, unknown>, writes: [string, unknown][] = []): Step[] => [
  { values, changed: Object.keys(values), writes },
];

describe.each(modes([ALL_MODES[1]!, ALL_MODES[6]!]).map((m) => [label(m), m] as const))(
  "at the inline threshold (%s)",
  (_, mode) => {
    it("a value of exactly inlineThresholdBytes stays in the record, one byte more gets an object", async () => {
      const values = {
        at: sizedString(INLINE, "😀", INLINE - 3),
        above: sizedString(INLINE + 1, "😀", INLINE - 2),
        bytesAt: bytesOf(INLINE),
        bytesAbove: bytesOf(INLINE + 1),
        empty: "",
        emptyBytes: new Uint8Array(0),
        proto: withProto(withProto(sizedString(INLINE)), { "": [] }),
      };
      // the second checkpoint changes nothing: it refers to the first one's values
      const keys = await sameAsMemory(mode, [
        { values, changed: Object.keys(values), writes: [] },
        { values, changed: [], writes: [["a", values]] },
      ]);
      expect([...keys.keys()].filter((k) => k.startsWith("b/")).sort()).toEqual(["b/above", "b/bytesAbove", "b/proto"]);
    });

    it("writers with other inline thresholds continue one thread (a deploy that changed the option)", async () => {
      const values = { a: sizedString(40, "😀", 20), b: sizedString(100, "\ud800", 50), c: bytesOf(40), d: "" };
      const later = { ...values, b: sizedString(30, "中", 3) };
      const steps: Step[] = [
        { values, changed: Object.keys(values), writes: [] },
        { values, changed: [], writes: [] },
        { values: later, changed: ["b"], writes: [] },
        { values: later, changed: [], writes: [["a", later]] },
        { values: later, changed: [], writes: [] },
      ];
      const thresholds = [64, 16, 0, 128, 40];
      const ids = steps.map(() => uuid6(-1));
      const thread = randomUUID();
      const memory = new MemorySaver();
      await write(memory, thread, steps, ids);
      const expected = await observe(memory, thread, ids);
      const { other, fresh } = saversFor(mode);
      const writers = thresholds.map((t) => other({ inlineThresholdBytes: t }));
      const reader = fresh();
      // a cache that holds some of the objects and not others (records, the 100-byte value)
      const small = other({ cacheMaxBytes: 1200 });
      try {
        await write((i) => writers[i]!, thread, steps, ids);
        for (const saver of [reader, small, small, writers[1]!, writers[4]!]) {
          expect(await observe(saver, thread, ids)).toStrictEqual(expected);
        }
      } finally {
        await Promise.all([reader, small, ...writers].map((w) => w.close()));
      }
    });

    it("special writes repeated in one call: the last one of an index wins, as in MemorySaver", async () => {
      await sameAsMemory(mode, [
        {
          values: {},
          changed: [],
          writes: [
            ["__error__", "first"],
            ["__interrupt__", [{ value: sizedString(INLINE + 1, "😀", 3) }]],
            ["__error__", sizedString(4 * INLINE, "中", INLINE)],
            ["a", 1],
            ["__interrupt__", []],
            ["__error__", { message: "third" }],
          ],
        },
      ]);
    });
  },
);

describe.each(modes([ALL_MODES[0]!, ALL_MODES[7]!]).map((m) => [label(m), m] as const))(
  "Uint8Array values (%s)",
  (_, mode) => {
    it("come back as a new Uint8Array on every read, never a Buffer or the cache's own memory", async () => {
      const { writer } = saversFor(mode);
      try {
        const small = bytesOf(INLINE); // inline in the record
        const large = bytesOf(4 * INLINE, 2); // an object of its own
        const pooled = Buffer.from(bytesOf(3, 3)); // a Buffer in Node's pool, as a user may pass one
        const view = new Uint8Array(bytesOf(2 * INLINE, 4).buffer, 5, INLINE + 3); // a view at an offset
        const values = { small, large, view: new Uint8Array(view) };
        const thread = randomUUID();
        const cp = {
          ...emptyCheckpoint(),
          id: uuid6(-1),
          channel_values: { small, large, view },
          channel_versions: { small: 1, large: 1, view: 1 },
        };
        let config = await writer.put(
          { configurable: { thread_id: thread, checkpoint_ns: "" } },
          cp,
          { source: "loop", step: 0, parents: {} },
          { small: 1, large: 1, view: 1 },
        );
        await writer.putWrites(
          config,
          [
            ["w", large],
            ["p", pooled],
          ],
          "t",
          "",
        );
        const first = (await writer.getTuple(config))!;
        const got = [...Object.values(first.checkpoint.channel_values), ...first.pendingWrites!.map(([, , v]) => v)];
        expect(got).toHaveLength(5);
        for (const v of got) {
          expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype);
          (v as Uint8Array).fill(0); // a caller may change what it was given
        }
        const again = (await writer.getTuple(config))!;
        expect(picture(again.checkpoint.channel_values)).toStrictEqual(picture(values));
        expect(picture(again.pendingWrites)).toStrictEqual(
          picture([
            ["t", "w", large],
            ["t", "p", new Uint8Array(pooled)],
          ]),
        );
        // nested in the next state (as a reducer keeps it), it is serialized as a Uint8Array again
        const kept = again.checkpoint.channel_values.large;
        const child = {
          ...emptyCheckpoint(),
          id: uuid6(-1),
          channel_values: { list: [kept, { kept }] },
          channel_versions: { list: 2 },
        };
        config = await writer.put(config, child, { source: "loop", step: 1, parents: {} }, { list: 2 });
        expect(picture((await writer.getTuple(config))!.checkpoint.channel_values)).toStrictEqual(
          picture({ list: [large, { kept: large }] }),
        );
        // and so in a shared bundle (its parent included)
        const shared = await readShared((await writer.share(first.config, { expiresIn: 60 })).url);
        expect(Object.getPrototypeOf(shared.checkpoint.channel_values.large)).toBe(Uint8Array.prototype);
        expect(picture(shared.checkpoint.channel_values)).toStrictEqual(picture(values));
        expect(picture(shared.pendingWrites)).toStrictEqual(
          picture([
            ["t", "w", large],
            ["t", "p", new Uint8Array(pooled)],
          ]),
        );
      } finally {
        await writer.close();
      }
    });
  },
);

describe.each(modes(LARGE_MODES).map((m) => [label(m), m] as const))("large values (%s)", (_, mode) => {
  it("at the 1 MiB boundaries (zstd-codec's one-shot input, the cipher's chunk), UTF-8 across them", async () => {
    // a channel value on its own is stored as its JSON: these are its exact sizes, and with
    // "none" the cipher's 1 MiB chunks cut the same bytes
    const strings = one({
      below: sizedString(MiB - 1, "😀", MiB - 3),
      at: sizedString(MiB, "😀", MiB - 2),
      above: sizedString(MiB + 1, "中", MiB - 1),
      surrogates: sizedString(MiB + 6, "\udbff", MiB - 3),
      nested: withProto(sizedString(MiB / 2, "é", MiB / 2 - 1), { more: [sizedString(MiB / 2, "😀", 7), ""] }),
    });
    await sameAsMemory(mode, strings, { light: true });
    const bytes = one({ at: bytesOf(MiB), above: bytesOf(MiB + 1, 2) }, [["w", bytesOf(MiB - 1, 3)]]);
    await sameAsMemory(mode, bytes, { expected: asGiven(bytes[0]!), light: true });
  }, 30_000);

  it("at the 8 MiB frame size where sealing streams, UTF-8 across the frame boundary", async () => {
    const F = 8 * MiB;
    // bytes where only the size matters (the serializer's JSON costs Node 20 ~0.3 s per 8 MiB read)
    const step = one(
      {
        below: bytesOf(F - 1),
        at: bytesOf(F, 2),
        above: sizedString(F + 1, "😀", F - 1),
        random: randomUint8(F + 1),
      },
      // a special write sorts first (its index is negative); both are objects of more than 8 MiB
      [
        ["__error__", bytesOf(F + 1, 3)],
        ["w", sizedString(F + 1, "中", F - 3)],
      ],
    );
    const keys = await sameAsMemory(mode, step, { expected: asGiven(step[0]!), light: true });
    // sealed whole and sent as one PutObject up to 8 MiB; streamed in 8 MiB parts above
    expect([keys.get("b/below"), keys.get("b/at")]).not.toContainEqual(expect.stringContaining("-"));
    expect([keys.get("b/random"), keys.get("w/s1")]).toEqual([
      expect.stringMatching(/-2$/),
      expect.stringMatching(/-2$/),
    ]);
  }, 60_000);

  it("in a record of more than 8 MiB (values inline up to a high threshold)", async () => {
    const F = 8 * MiB;
    const step = one({ inline: bytesOf(F + 1, 5), text: sizedString(2 * KiB, "😀", KiB), empty: "" });
    const keys = await sameAsMemory(mode, step, {
      options: { inlineThresholdBytes: 16 * MiB },
      expected: asGiven(step[0]!),
      light: true,
    });
    expect([...keys.keys()]).toEqual(["c"]);
    expect(keys.get("c")).toMatch(/-2$/);
  }, 60_000);

  it("in multipart uploads of 5 MiB parts, whole and streamed bodies", async () => {
    // incompressible: a body as large as its plaintext, with zstd too
    const step = one({ whole: randomUint8(5 * MiB + 1), streamed: randomUint8(10 * MiB + 1) }, [
      ["w", randomUint8(5 * MiB + 1)],
    ]);
    const options = { multipartThresholdBytes: 5 * MiB, multipartPartSizeBytes: 5 * MiB };
    const keys = await sameAsMemory(mode, step, { options, expected: asGiven(step[0]!), light: true });
    expect([keys.get("b/whole"), keys.get("b/streamed"), keys.get("w/r")]).toEqual([
      expect.stringMatching(/-2$/),
      expect.stringMatching(/-3$/),
      expect.stringMatching(/-2$/),
    ]);
  }, 60_000);

  it("a second writer of an id or of a task's writes, in multipart size, leaves the first readable", async () => {
    const options = { multipartThresholdBytes: 5 * MiB, multipartPartSizeBytes: 5 * MiB };
    const { other, fresh } = saversFor(mode, options);
    // two instances: the second holds nothing of the first's in its cache
    const [a, b, reader] = [other({}), other({}), fresh()];
    try {
      const [first, second] = [bytesOf(5 * MiB + 1, 7), bytesOf(5 * MiB + 1, 8)];
      const id = uuid6(-1);
      const config = { configurable: { thread_id: randomUUID(), checkpoint_ns: "" } };
      const put = (saver: S3Checkpointer, v: Uint8Array) =>
        saver.put(
          config,
          { ...emptyCheckpoint(), id, channel_values: { v }, channel_versions: { v: 1 } },
          { source: "loop", step: 0, parents: {} },
          { v: 1 },
        );
      const written = await put(a, first);
      await a.putWrites(written, [["w", first]], "task", "");
      // refused where the store tells (README, Immutability on different stores); where the
      // first version wins (a versioned Ceph RGW bucket) the late writer is not told
      await put(b, second).catch((e: unknown) => expect(e).toMatchObject({ code: "CHECKPOINT_CONFLICT" }));
      // regular writes are insert-if-absent, in MemorySaver too: the first stays
      await b.putWrites(written, [["w", second]], "task", "");
      for (const saver of [reader, b]) {
        const tuple = await saver.getTuple(written);
        expect(picture(tuple?.checkpoint.channel_values)).toStrictEqual(picture({ v: first }));
        expect(picture(tuple?.pendingWrites)).toStrictEqual(picture([["task", "w", first]]));
      }
    } finally {
      await Promise.all([a, b, reader].map((s) => s.close()));
    }
  }, 30_000);

  it("at maxObjectBytes: a value of exactly the bound is stored and read, one byte more is refused unwritten", async () => {
    const max = 256 * KiB;
    const options = { maxObjectBytes: max };
    const keys = await sameAsMemory(mode, one({ at: sizedString(max, "😀", max - 2), small: "" }), { options });
    expect(keys.has("b/at")).toBe(true);
    // MemorySaver has no bound: the documented difference (README, Configuration)
    const { writer, bucket, prefix } = saversFor(mode, options);
    try {
      const config = { configurable: { thread_id: randomUUID(), checkpoint_ns: "" } };
      const cp = {
        ...emptyCheckpoint(),
        id: uuid6(-1),
        channel_values: { above: sizedString(max + 1) },
        channel_versions: { above: 1 },
      };
      await expect(
        writer.put(config, cp, { source: "loop", step: 0, parents: {} }, { above: 1 }),
      ).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
      });
      await expect(
        writer.putWrites(
          { configurable: { ...config.configurable, checkpoint_id: cp.id } },
          [["w", sizedString(max)]],
          "t",
          "",
        ),
      ).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
      expect((await stored(bucket, prefix)).size).toBe(0);
      expect(await writer.getTuple(config)).toBeUndefined();
    } finally {
      await writer.close();
    }
  });
});
