/** The CLI's pure helpers: durations, whole numbers, tables, JSON. */
import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { parseDuration, parseWhole, table, toJson } from "../../src/cli/context.js";

describe("cli helpers", () => {
  it("reads durations with a unit, and nothing else", () => {
    const parse = parseDuration("--idle-for");
    expect(parse("500ms")).toBe(500);
    expect(parse("90s")).toBe(90_000);
    expect(parse("15m")).toBe(900_000);
    expect(parse("1.5h")).toBe(5_400_000);
    expect(parse("30d")).toBe(30 * 86_400_000);
    expect(parse("2w")).toBe(14 * 86_400_000);
    for (const bad of ["30", "d", "-1d", "1 d", "1y", ""]) expect(() => parse(bad)).toThrow(InvalidArgumentError);
    expect(() => parse("soon")).toThrow(/--idle-for must be a duration/);
  });

  it("reads whole numbers from a minimum on", () => {
    expect(parseWhole("--limit")("0")).toBe(0);
    expect(parseWhole("--keep-last", 1)("20")).toBe(20);
    for (const bad of ["-1", "1.5", "x", "", "1e3"])
      expect(() => parseWhole("--limit")(bad)).toThrow(InvalidArgumentError);
    expect(() => parseWhole("--keep-last", 1)("0")).toThrow(/at least 1/);
  });

  it("aligns table columns under their header; JSON takes BigInts and dates", () => {
    expect(
      table(
        ["A", "LONGER"],
        [
          ["xyz", "1"],
          ["w", "22"],
        ],
      ),
    ).toBe("A    LONGER\nxyz  1\nw    22");
    expect(JSON.parse(toJson({ n: 10n, at: new Date(0) }))).toEqual({ n: "10", at: "1970-01-01T00:00:00.000Z" });
  });
});
