import { describe, expect, it } from "vitest";
import { lastLiveVersion, liveRun, liveVersion } from "../../src/immutability.js";
import type { ListedVersion } from "../../src/store.js";

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);
function v(versionId: string, ms: number, isLatest = false): ListedVersion {
  return { key: "k", versionId, isDeleteMarker: false, isLatest, lastModified: at(ms), size: 1 };
}
function marker(versionId: string, ms: number, isLatest = false): ListedVersion {
  return { key: "k", versionId, isDeleteMarker: true, isLatest, lastModified: at(ms), size: 0 };
}

describe("the version of a key that readers read", () => {
  it("is the first one written where a key was written more than once, the newest for replaceable keys", () => {
    // as a listing gives them: versions newest first
    const entries = [v("c", 30, true), v("b", 20), v("a", 10)];
    expect(liveVersion(entries, "first")).toBe("a");
    expect(liveVersion(entries, "newest")).toBe("c");
    expect(liveVersion([v("only", 5, true)], "first")).toBe("only");
  });

  it("is none when the key's current entry is a delete marker", () => {
    expect(liveVersion([v("b", 20), v("a", 10), marker("m", 40, true)], "first")).toBeUndefined();
    expect(liveRun([])).toEqual([]);
  });

  it("counts only what was written since the newest delete marker (a key written again after a delete)", () => {
    // versions and markers come in two lists, each newest first
    const entries = [v("new2", 60, true), v("new1", 50), v("old", 10), marker("m2", 40), marker("m1", 20)];
    expect(liveRun(entries).map((e) => e.versionId)).toEqual(["new2", "new1"]);
    expect(liveVersion(entries, "first")).toBe("new1");
  });

  it("falls back to the current version when times cannot order a delete and a write", () => {
    expect(liveVersion([v("new", 40, true), v("old", 10), marker("m", 40)], "first")).toBe("new");
  });

  it("reads versions written while versioning was off (version id null) as any other", () => {
    expect(liveVersion([v("x", 20, true), v("null", 10)], "first")).toBe("null");
  });

  it("of a deleted key, read from history, is what it was before the delete", () => {
    // soft-deleted after a late writer's version: the first writer's still is the one
    const deleted = [
      v("late", 30),
      v("first", 20),
      v("before-older-delete", 5),
      marker("now", 40, true),
      marker("older", 10),
    ];
    expect(liveVersion(deleted, "first")).toBeUndefined();
    expect(lastLiveVersion(deleted, "first")).toBe("first");
    expect(lastLiveVersion(deleted, "newest")).toBe("late");
    expect(lastLiveVersion([marker("m", 5, true)], "first")).toBeUndefined();
    expect(lastLiveVersion([v("a", 5, true)], "first")).toBe("a");
  });
});
