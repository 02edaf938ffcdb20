/** Decoded records and writes are validated field by field: only typed errors come out. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckpointCorruptedError } from "../../src/errors.js";
import { pack, unpack } from "../../src/record.js";

const record = {
  kind: "checkpoint",
  fmt: 1,
  thread_id: "t",
  checkpoint_ns: "",
  checkpoint_id: "1",
  checkpoint: { type: "json", s: 0 },
  metadata: { type: "json", s: 1 },
  channels: {
    a: { v: 1, at: "inline", type: "json", s: 2 },
    b: { v: "2", at: "blob" },
    c: { v: 3, at: "record", id: "0" },
  },
};
const sections = [Buffer.from("{}"), Buffer.from("{}"), Buffer.from("1")];

describe("record and writes heads", () => {
  it("a valid head round-trips", () => {
    expect(unpack(pack(record, sections), "checkpoint").head).toMatchObject(record);
  });

  it("any other head, of any shape, is a CheckpointCorruptedError", () => {
    const mutations = fc.record({
      field: fc.constantFrom(
        "thread_id",
        "checkpoint_ns",
        "checkpoint",
        "metadata",
        "channels",
        "parent_checkpoint_id",
        "kind",
      ),
      value: fc.jsonValue(),
    });
    fc.assert(
      fc.property(mutations, ({ field, value }) => {
        const head = { ...record, [field]: value };
        let error: unknown;
        try {
          unpack(pack(head, sections), "checkpoint", "k");
        } catch (e) {
          error = e;
        }
        // either it is still a valid head, or it is refused with a typed error
        if (error !== undefined) expect(error).toBeInstanceOf(CheckpointCorruptedError);
      }),
      { numRuns: 300 },
    );
    for (const ref of [
      null,
      1,
      { v: 1, at: "inline", type: "json", s: 9 },
      { v: {}, at: "blob" },
      { v: 1, at: "record" },
    ]) {
      expect(() => unpack(pack({ ...record, channels: { a: ref } }, sections), "checkpoint", "k")).toThrow(
        CheckpointCorruptedError,
      );
    }
    expect(() => unpack(pack({ ...record, checkpoint: { type: "json", s: 7 } }, sections), "checkpoint")).toThrow(
      CheckpointCorruptedError,
    );
    const head = Buffer.from(JSON.stringify({ ...record, s: [-1] }));
    const framed = Buffer.concat([Buffer.from([0, 0, 0, head.length]), head]);
    expect(() => unpack(framed, "checkpoint")).toThrow(CheckpointCorruptedError);
  });

  it("a writes head needs its ids, task and well-formed writes", () => {
    const writes = {
      kind: "writes",
      thread_id: "t",
      checkpoint_ns: "",
      checkpoint_id: "1",
      task_id: "k",
      task_path: "",
    };
    expect(() =>
      unpack(pack({ ...writes, writes: [{ idx: 0, channel: "a", type: "json", s: 0 }] }, [Buffer.from("1")]), "writes"),
    ).not.toThrow();
    for (const bad of [
      { writes: "x" },
      { writes: [{ idx: "0", channel: "a", type: "json", s: 0 }] },
      { task_id: 5, writes: [] },
    ]) {
      expect(() => unpack(pack({ ...writes, ...bad }, [Buffer.from("1")]), "writes")).toThrow(CheckpointCorruptedError);
    }
  });
});
