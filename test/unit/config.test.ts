import { describe, expect, it } from "vitest";
import {
  checkpointIdOf,
  namespaceOf,
  optionalThread,
  requireThread,
  requireThreadId,
  versionIdOf,
} from "../../src/config.js";
import { InvalidArgumentError } from "../../src/errors.js";

describe("reading a RunnableConfig", () => {
  it("thread ids: strings as given, finite numbers as text, anything else refused", () => {
    expect(requireThreadId("t-1", "op")).toBe("t-1");
    expect(requireThreadId("", "op")).toBe("");
    expect(requireThreadId(42, "op")).toBe("42");
    for (const bad of [null, undefined, {}, [], Number.NaN, Number.POSITIVE_INFINITY, true]) {
      expect(() => requireThreadId(bad, "op")).toThrow(InvalidArgumentError);
    }
  });

  it("a missing thread is undefined for reads and an error for writes", () => {
    expect(optionalThread({})).toBeUndefined();
    expect(optionalThread({ configurable: { thread_id: null } })).toBeUndefined();
    expect(() => requireThread({}, "put")).toThrow(/put\(\): config.configurable.thread_id is required/);
    expect(requireThread({ configurable: { thread_id: "x" } }, "put")).toBe("x");
  });

  it("namespaces must be strings", () => {
    expect(namespaceOf({ configurable: {} })).toBeUndefined();
    expect(namespaceOf({ configurable: { checkpoint_ns: "" } })).toBe("");
    expect(() => namespaceOf({ configurable: { checkpoint_ns: 3 } })).toThrow(InvalidArgumentError);
  });

  it("checkpoint ids are checked; empty means none; thread_ts is read as LangGraph reads it", () => {
    expect(checkpointIdOf({ configurable: { checkpoint_id: "" } })).toBeUndefined();
    expect(checkpointIdOf({ configurable: { checkpoint_id: "1ef-abc" } })).toBe("1ef-abc");
    expect(checkpointIdOf({ configurable: { thread_ts: "1ef-old" } })).toBe("1ef-old");
    expect(() => checkpointIdOf({ configurable: { checkpoint_id: "../x" } })).toThrow(InvalidArgumentError);
    expect(() => checkpointIdOf({ configurable: { checkpoint_id: "x".repeat(129) } }, "parent")).toThrow(/parent/);
  });

  it("version ids must be strings", () => {
    expect(versionIdOf({ configurable: {} })).toBeUndefined();
    expect(versionIdOf({ configurable: { s3_version_id: "" } })).toBeUndefined();
    expect(versionIdOf({ configurable: { s3_version_id: "v1" } })).toBe("v1");
    expect(() => versionIdOf({ configurable: { s3_version_id: 7 } })).toThrow(InvalidArgumentError);
  });
});
