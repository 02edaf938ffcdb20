import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidArgumentError, InvalidOptionError } from "../../src/errors.js";
import {
  KeyLayout,
  MAX_READABLE_COMPONENT,
  decodeComponent,
  encodeComponent,
  invertCheckpointId,
  normalizePrefix,
  revertCheckpointId,
} from "../../src/layout.js";

const anyString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom("", ".", "..", "../", "../../etc", "/", "//", "%", "%2F", "~", "~h", "~2F", "a/b", " ", "\u0000", "ümlaut", "日本語", "🙂"),
  fc.string({ minLength: 900, maxLength: 1100 }),
);
const checkpointId = fc.stringMatching(/^[-0-9A-Za-z_]{1,64}$/);

describe("encodeComponent", () => {
  it("round-trips every readable encoding", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const enc = encodeComponent(s);
        if (!enc.startsWith("~h")) expect(decodeComponent(enc)).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });

  it("never produces a separator, a dot segment, or an over-long component", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        const enc = encodeComponent(s);
        expect(enc).not.toContain("/");
        expect(enc).not.toBe(".");
        expect(enc).not.toBe("..");
        expect(enc.startsWith(".")).toBe(false);
        expect(enc.length).toBeGreaterThan(0);
        expect(enc.length).toBeLessThanOrEqual(Math.max(MAX_READABLE_COMPONENT, 66));
        expect(enc).toMatch(/^[A-Za-z0-9_.~-]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it("maps distinct inputs to distinct components", () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        fc.pre(a !== b);
        expect(encodeComponent(a)).not.toBe(encodeComponent(b));
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps readable ids readable and pins exact encodings", () => {
    expect(encodeComponent("thread-42")).toBe("thread-42");
    expect(encodeComponent("")).toBe("~");
    expect(encodeComponent("a/b")).toBe("a~2Fb");
    expect(encodeComponent("../x")).toBe("~2E.~2Fx");
    expect(encodeComponent("100%")).toBe("100~25");
    expect(encodeComponent("~")).toBe("~7E");
    expect(encodeComponent("ü")).toBe("~C3~BC");
    expect(encodeComponent("x".repeat(1000))).toMatch(/^~h[0-9a-f]{64}$/);
  });

  it("rejects non-canonical components on decode", () => {
    expect(decodeComponent("~2f")).toBeUndefined(); // lower-case escape
    expect(decodeComponent("~41")).toBeUndefined(); // needless escape of "A"
    expect(decodeComponent("a/b")).toBeUndefined();
    expect(decodeComponent("~hdeadbeef")).toBeUndefined();
  });
});

describe("checkpoint id order", () => {
  it("inverts the order of ids (newest first in S3's ascending listing)", () => {
    fc.assert(
      fc.property(checkpointId, checkpointId, (a, b) => {
        fc.pre(a !== b);
        const ia = invertCheckpointId(a);
        const ib = invertCheckpointId(b);
        expect(Buffer.compare(Buffer.from(ia), Buffer.from(ib))).toBe(a < b ? 1 : -1);
        expect(revertCheckpointId(ia)).toBe(a);
      }),
      { numRuns: 3000 },
    );
  });

  it("rejects ids that cannot be keys", () => {
    for (const bad of ["", "a/b", "ü", "x".repeat(129), 42 as unknown as string]) {
      expect(() => invertCheckpointId(bad)).toThrow(InvalidArgumentError);
    }
  });
});

describe("KeyLayout", () => {
  const layout = new KeyLayout("prod");

  it("builds the documented keys", () => {
    const id = "1ef9c3a2-0000-6000-8000-000000000001";
    const inv = invertCheckpointId(id);
    expect(layout.thread("t/1")).toBe("prod/threads/t~2F1/");
    expect(layout.record("t1", "", id)).toBe(`prod/threads/t1/n/~/${inv}/c`);
    expect(layout.writes("t1", "sub:1", id, "task", "r")).toBe(`prod/threads/t1/n/sub~3A1/${inv}/w/task/r`);
    expect(layout.writes("t1", "", id, "task", "s3")).toBe(`prod/threads/t1/n/~/${inv}/w/task/s3`);
    expect(layout.blob("t1", "", "messages", "00000000000000000000000000000002.0123456789abcdef")).toBe(
      "prod/threads/t1/b/~/messages/00000000000000000000000000000002.0123456789abcdef",
    );
  });

  it("parses what it builds, and nothing else", () => {
    fc.assert(
      fc.property(anyString, anyString, checkpointId, anyString, (thread, ns, id, task) => {
        const rec = layout.parse(layout.record(thread, ns, id));
        expect(rec).toEqual({ kind: "record", thread: encodeComponent(thread), ns: encodeComponent(ns), checkpointId: id });
        const w = layout.parse(layout.writes(thread, ns, id, task, "s2"));
        expect(w).toMatchObject({ kind: "writes", checkpointId: id, task: encodeComponent(task), group: "s2" });
        // every key of a thread stays under the thread's prefix
        expect(layout.record(thread, ns, id).startsWith(layout.thread(thread))).toBe(true);
        expect(layout.blob(thread, ns, task, 1).startsWith(layout.thread(thread))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    expect(layout.parse("prod/threads/t1/n/~/zz/c")).toBeUndefined();
    expect(layout.parse("other/threads/t1/n/~/a~/c")).toBeUndefined();
  });

  it("no thread's prefix is a prefix of another thread's", () => {
    fc.assert(
      fc.property(anyString, anyString, (a, b) => {
        fc.pre(a !== b);
        expect(layout.thread(a).startsWith(layout.thread(b))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps every key under S3's 1,024-byte limit", () => {
    const long = "ü".repeat(1000);
    expect(Buffer.byteLength(layout.writes(long, long, "x".repeat(128), long, "s4"))).toBeLessThan(1024);
  });

  it("StartAfter markers split newer from older checkpoints", () => {
    fc.assert(
      fc.property(fc.uniqueArray(checkpointId, { minLength: 3, maxLength: 12 }), (ids) => {
        const keys = ids.flatMap((id) => [layout.record("t", "", id), layout.writes("t", "", id, "x", "r")]).sort();
        const pivot = ids[0]!;
        const older = keys.filter((k) => k > layout.olderThan("t", "", pivot)).map((k) => layout.parse(k)!);
        expect(new Set(older.map((p) => (p as { checkpointId: string }).checkpointId))).toEqual(new Set(ids.filter((i) => i < pivot)));
        const from = keys.filter((k) => k > layout.fromCheckpoint("t", "", pivot)).map((k) => layout.parse(k)!);
        expect(new Set(from.map((p) => (p as { checkpointId: string }).checkpointId))).toEqual(new Set(ids.filter((i) => i <= pivot)));
      }),
      { numRuns: 500 },
    );
  });
});

describe("normalizePrefix", () => {
  it("adds the trailing slash and refuses unsafe prefixes", () => {
    expect(normalizePrefix(undefined)).toBe("");
    expect(normalizePrefix("a")).toBe("a/");
    expect(normalizePrefix("a/b/")).toBe("a/b/");
    expect(() => normalizePrefix("/abs")).toThrow(InvalidOptionError);
    expect(() => normalizePrefix("a/../b")).toThrow(InvalidOptionError);
  });
});
