import { createHash } from "node:crypto";
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

/** Lone surrogates, pairs, and the characters the encoding treats specially, densely mixed. */
const tricky = fc
  .array(
    fc.constantFrom("\uD83D", "\uDE00", "\uD800", "\uDFFF", "🙂", ".", "/", "%", "~", "u", "D", "a", "é", "\uFFFD"),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(""));
const anyString = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  tricky,
  fc.constantFrom(
    "",
    ".",
    "..",
    "../",
    "../../etc",
    "/",
    "//",
    "%",
    "%2F",
    "~",
    "~h",
    "~2F",
    "~uD83D",
    "a/b",
    " ",
    "\u0000",
    "ümlaut",
    "日本語",
    "🙂",
  ),
  fc.string({ minLength: 900, maxLength: 1100 }),
  fc.string({ unit: "binary", minLength: 50, maxLength: 200 }),
  fc.string({ unit: "binary", minLength: 900, maxLength: 1100 }),
);
/** Strings of the component alphabet (and `u`-escapes), to throw at the decoder. */
const componentLike = fc
  .array(
    fc.constantFrom(
      "~",
      "u",
      "D",
      "8",
      "3",
      "F",
      "E",
      "B",
      "C",
      "A",
      "0",
      "9",
      "h",
      "a",
      ".",
      "-",
      "_",
      "~uD83D",
      "~uDE00",
      "~F0",
      "~9F",
    ),
    {
      maxLength: 16,
    },
  )
  .map((parts) => parts.join(""));
const checkpointId = fc.stringMatching(/^[-0-9A-Za-z_]{1,64}$/);

/**
 * The encoder as it was before lone surrogates had escapes, kept verbatim in spirit: every
 * well-formed string must still encode exactly like this, or existing threads would move.
 */
function legacyEncode(value: string): string {
  if (value === "") return "~";
  let out = "";
  const bytes = Buffer.from(value, "utf8");
  for (let i = 0; i < bytes.length; i += 1) {
    const b = bytes[i]!;
    const ch = String.fromCharCode(b);
    out +=
      b < 0x80 && /^[A-Za-z0-9_.-]$/.test(ch) && !(i === 0 && ch === ".")
        ? ch
        : `~${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out.length > MAX_READABLE_COMPONENT) return `~h${createHash("sha256").update(bytes).digest("hex")}`;
  return out;
}
const isWellFormed = (s: string) => Buffer.from(s, "utf8").toString("utf8") === s;

describe("encodeComponent", () => {
  it("encodes every well-formed string exactly as before (existing keys do not move)", () => {
    fc.assert(
      fc.property(anyString, (s) => {
        if (isWellFormed(s)) expect(encodeComponent(s)).toBe(legacyEncode(s));
      }),
      { numRuns: 3000 },
    );
  });

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

  it("maps distinct inputs to distinct components, also among near-identical cut strings", () => {
    // a small alphabet makes near-collisions (one half of an emoji for another) frequent
    const units = fc.constantFrom("\uD83D", "\uDE00", "\uDFFF", "\uFFFD", "x");
    const shortTricky = fc.array(units, { maxLength: 4 }).map((p) => p.join(""));
    const longTricky = fc.array(units, { minLength: 150, maxLength: 170 }).map((p) => p.join(""));
    const near = fc.oneof(shortTricky, tricky, longTricky);
    fc.assert(
      fc.property(near, near, (a, b) => {
        fc.pre(a !== b);
        expect(encodeComponent(a)).not.toBe(encodeComponent(b));
      }),
      { numRuns: 5000 },
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
    // keys that existing buckets hold: these must never change
    expect(encodeComponent("🙂")).toBe("~F0~9F~99~82");
    expect(encodeComponent("\uFFFD")).toBe("~EF~BF~BD");
    expect(encodeComponent(".hidden")).toBe("~2Ehidden");
    expect(encodeComponent("a.b")).toBe("a.b");
    expect(encodeComponent("sub:1|task")).toBe("sub~3A1~7Ctask");
    expect(encodeComponent("x".repeat(160))).toBe("x".repeat(160));
    expect(encodeComponent("ü".repeat(1000))).toBe(
      "~hdabd53845cfba11cd585ac2a4e9196ba1e7f225507e5f85dd84d0389629e7927",
    );
  });

  it("rejects non-canonical components on decode", () => {
    expect(decodeComponent("~2f")).toBeUndefined(); // lower-case escape
    expect(decodeComponent("~41")).toBeUndefined(); // needless escape of "A"
    expect(decodeComponent("a/b")).toBeUndefined();
    expect(decodeComponent("~hdeadbeef")).toBeUndefined();
    expect(decodeComponent("~uD83D~uDE00")).toBeUndefined(); // a pair is written as its UTF-8 bytes
    expect(decodeComponent("~ud83d")).toBeUndefined(); // lower-case escape
    expect(decodeComponent("~u0041")).toBeUndefined(); // only surrogates have a `~u` escape
    expect(decodeComponent("~uD83")).toBeUndefined(); // truncated
    expect(decodeComponent("~ED~A0~BD")).toBeUndefined(); // a surrogate smuggled in as (invalid) UTF-8
    expect(decodeComponent("~EF~BF~BD")).toBe("\uFFFD"); // the real U+FFFD is its own string
  });

  it("decodes only canonical encodings: whatever it accepts, encode gives back", () => {
    fc.assert(
      fc.property(componentLike, (c) => {
        const decoded = decodeComponent(c);
        if (decoded !== undefined) expect(encodeComponent(decoded)).toBe(c);
      }),
      { numRuns: 5000 },
    );
  });

  it("gives lone surrogates their own escapes (a string cut inside an emoji is its own id)", () => {
    const emoji = "🙂"; // "\uD83D\uDE42"
    const cuts = [emoji[0]!, emoji[1]!, `a${emoji[0]!}`, `${emoji[1]!}${emoji[0]!}`, "\uFFFD", ""];
    const keys = cuts.map(encodeComponent);
    expect(new Set(keys).size).toBe(cuts.length);
    expect(encodeComponent("\uD83D")).toBe("~uD83D");
    expect(encodeComponent("\uDE42")).toBe("~uDE42");
    expect(encodeComponent("a\uD83D.b")).toBe("a~uD83D.b");
    expect(encodeComponent("\uD800.")).toBe("~uD800."); // the leading-dot rule is about the first character only
    expect(encodeComponent(".\uD800")).toBe("~2E~uD800");
    expect(encodeComponent("\uDE42\uD83D")).toBe("~uDE42~uD83D"); // reversed halves are no pair
    for (const cut of cuts) expect(decodeComponent(encodeComponent(cut))).toBe(cut);
  });

  it("digests long ill-formed strings apart from the well-formed ones that look alike", () => {
    const wellFormed = "x".repeat(200) + "\uFFFD";
    const illFormed = "x".repeat(200) + "\uD83D";
    expect(encodeComponent(wellFormed)).toMatch(/^~h[0-9a-f]{64}$/);
    expect(encodeComponent(illFormed)).toMatch(/^~h[0-9a-f]{64}$/);
    expect(encodeComponent(wellFormed)).not.toBe(encodeComponent(illFormed));
    // unchanged for well-formed strings: SHA-256 of the UTF-8 bytes
    expect(encodeComponent("x".repeat(1000))).toBe(`~h${createHash("sha256").update("x".repeat(1000)).digest("hex")}`);
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

  it("reverts only components it could have made", () => {
    for (const bad of ["", "~", "~~", "a", "a/~", "é~", "🙂~", `${"a".repeat(129)}~`, "\uD83D~"]) {
      expect(revertCheckpointId(bad)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 140 }), (s) => {
        const id = revertCheckpointId(s);
        if (id !== undefined) expect(invertCheckpointId(id)).toBe(s);
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
        expect(rec).toEqual({
          kind: "record",
          thread: encodeComponent(thread),
          ns: encodeComponent(ns),
          checkpointId: id,
        });
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

  it("refuses hostile keys without throwing: non-canonical components, odd groups, extra parts", () => {
    const inv = invertCheckpointId("1ef");
    const good = `prod/threads/t1/n/~/${inv}/c`;
    expect(layout.parse(good)).toMatchObject({ kind: "record", thread: "t1", ns: "~" });
    for (const bad of [
      `prod/threads//n/~/${inv}/c`, // empty thread component
      `prod/threads/t~2f/n/~/${inv}/c`, // lower-case escape
      `prod/threads/~41/n/~/${inv}/c`, // needless escape
      `prod/threads/t1/n//${inv}/c`, // empty namespace component
      `prod/threads/t1/n/../${inv}/c`,
      `prod/threads/~hdead/n/~/${inv}/c`, // short digest
      `prod/threads/t1/n/~/${inv}/w/task/s01`, // non-canonical group
      `prod/threads/t1/n/~/${inv}/w/task/s0`,
      `prod/threads/t1/n/~/${inv}/w/task/s`,
      `prod/threads/t1/n/~/${inv}/w//r`,
      `prod/threads/t1/n/~/${inv}/w/ta~2fsk/r`,
      `prod/threads/t1/n/~/${inv}/c/extra`,
      `prod/threads/t1/n/~/${"a".repeat(200)}~/c`,
      `prod/threads/t1/b/~/ch/`,
      `prod/threads/t1/b/~/ch/v/x`,
      `prod/threads/t1/x/~/${inv}/c`,
      "prod/threads/",
      "prod/threads/t1",
    ]) {
      expect(layout.parse(bad)).toBeUndefined();
    }
    fc.assert(
      fc.property(
        fc.array(fc.oneof(anyString, componentLike, fc.constantFrom("n", "b", "w", "c", "r", "s1", inv)), {
          maxLength: 8,
        }),
        (parts) => {
          const key = `prod/threads/${parts.join("/")}`;
          const parsed = layout.parse(key);
          if (parsed === undefined) return;
          // whatever parses is a key the builders make
          const thread = decodeComponent(parsed.thread);
          const ns = decodeComponent(parsed.ns);
          if (thread === undefined || ns === undefined) return; // digest components: originals live in the bodies
          if (parsed.kind === "record") expect(layout.record(thread, ns, parsed.checkpointId)).toBe(key);
          if (parsed.kind === "writes" && decodeComponent(parsed.task) !== undefined) {
            expect(layout.writes(thread, ns, parsed.checkpointId, decodeComponent(parsed.task)!, parsed.group)).toBe(
              key,
            );
          }
        },
      ),
      { numRuns: 3000 },
    );
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
        expect(new Set(older.map((p) => (p as { checkpointId: string }).checkpointId))).toEqual(
          new Set(ids.filter((i) => i < pivot)),
        );
        const from = keys.filter((k) => k > layout.fromCheckpoint("t", "", pivot)).map((k) => layout.parse(k)!);
        expect(new Set(from.map((p) => (p as { checkpointId: string }).checkpointId))).toEqual(
          new Set(ids.filter((i) => i <= pivot)),
        );
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
