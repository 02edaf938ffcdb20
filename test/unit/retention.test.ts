/** The option checks of prune and sweep: each bad option is an InvalidArgumentError naming it. */
import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../src/index.js";
import { checkPruneOptions, checkSweepOptions, type PruneOptions, type SweepOptions } from "../../src/retention.js";

describe("retention options", () => {
  it("prune: keepLast or olderThan, each of a valid kind", () => {
    for (const ok of [
      { keepLast: 1 },
      { olderThan: 0 },
      { olderThan: new Date() },
      { keepLast: 3, olderThan: 1000, orphanGraceMs: 0, dryRun: true },
    ]) {
      expect(() => checkPruneOptions(ok)).not.toThrow();
    }
    const bad: [unknown, RegExp][] = [
      [null, /options must be an object/],
      [{}, /pass keepLast, olderThan or both/],
      [{ keepLast: 0 }, /keepLast/],
      [{ keepLast: 2.5 }, /keepLast/],
      [{ keepLast: "3" }, /keepLast/],
      [{ olderThan: -1 }, /olderThan/],
      [{ olderThan: new Date("not a date") }, /olderThan/],
      [{ olderThan: "7d" }, /olderThan/],
      [{ keepLast: 1, orphanGraceMs: Number.NaN }, /orphanGraceMs/],
      [{ keepLast: 1, dryRun: "yes" }, /dryRun/],
    ];
    for (const [options, message] of bad) {
      expect(() => checkPruneOptions(options as PruneOptions)).toThrow(InvalidArgumentError);
      expect(() => checkPruneOptions(options as PruneOptions)).toThrow(message);
    }
  });

  it("sweep: idleFor above 0, mode soft or purge", () => {
    expect(() => checkSweepOptions({ idleFor: 1, mode: "purge", dryRun: false })).not.toThrow();
    expect(() => checkSweepOptions({ idleFor: 1 })).not.toThrow();
    for (const [options, message] of [
      [{ idleFor: 0 }, /idleFor/],
      [{ idleFor: Number.POSITIVE_INFINITY }, /idleFor/],
      [{ idleFor: 1, mode: "hard" }, /mode/],
      [{ idleFor: 1, dryRun: 1 }, /dryRun/],
    ] as [unknown, RegExp][]) {
      expect(() => checkSweepOptions(options as SweepOptions)).toThrow(InvalidArgumentError);
      expect(() => checkSweepOptions(options as SweepOptions)).toThrow(message);
    }
  });
});
