import { describe, expect, it } from "vitest";
import { CACHE_ENTRY_OVERHEAD_BYTES, ObjectCache, ownBytes } from "../../src/cache.js";

describe("the object cache", () => {
  it("keeps objects by key and by version, and drops a thread's entries by prefix", () => {
    const cache = new ObjectCache(1 << 20);
    cache.remember("p/t1/a", { plaintext: Buffer.from("a") });
    cache.remember("p/t1/a", { plaintext: Buffer.from("old") }, "v1");
    cache.remember("p/t2/b", { plaintext: Buffer.from("b"), type: "json" });
    expect(cache.get("p/t1/a")?.plaintext.toString()).toBe("a");
    expect(cache.get("p/t1/a", "v1")?.plaintext.toString()).toBe("old");
    cache.forgetPrefix("p/t1/");
    expect(cache.get("p/t1/a")).toBeUndefined();
    expect(cache.get("p/t1/a", "v1")).toBeUndefined();
    expect(cache.get("p/t2/b")?.type).toBe("json");
  });

  it("counts what an entry keeps alive, so a slice of a large buffer cannot pin it", () => {
    const big = Buffer.alloc(4 << 20);
    const slice = big.subarray(0, 10);
    const cache = new ObjectCache(1 << 20);
    cache.remember("k", { plaintext: slice });
    // the entry holds a copy of its 10 bytes, not the 4 MiB buffer behind them
    expect(cache.get("k")!.plaintext.buffer.byteLength).toBe(10);
    expect(cache.retainedBytes).toBe(10 + 2 + CACHE_ENTRY_OVERHEAD_BYTES);
  });

  it("stays within its bound", () => {
    const cache = new ObjectCache(64 * 1024);
    for (let i = 0; i < 100; i += 1) cache.remember(`k${i}`, { plaintext: Buffer.alloc(4096) });
    expect(cache.retainedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(cache.get("k99")).toBeDefined();
    expect(cache.get("k0")).toBeUndefined();
  });

  it("with a bound of 0 keeps nothing", () => {
    const cache = new ObjectCache(0);
    cache.remember("k", { plaintext: Buffer.from("x") });
    expect(cache.get("k")).toBeUndefined();
    expect(cache.retainedBytes).toBe(0);
  });

  it("says whether it now shares the plaintext it was given, so a reader knows when it alone holds it", () => {
    const cache = new ObjectCache(1 << 20);
    const own = Buffer.allocUnsafeSlow(16);
    expect(cache.remember("own", { plaintext: own })).toBe(true);
    expect(cache.get("own")!.plaintext).toBe(own);
    // a slice is copied: the cache keeps its copy, the caller's buffer is still the caller's alone
    expect(cache.remember("slice", { plaintext: Buffer.alloc(64).subarray(0, 8) })).toBe(false);
    expect(cache.get("slice")).toBeDefined();
    // larger than the bound: not kept
    expect(cache.remember("big", { plaintext: Buffer.allocUnsafeSlow(2 << 20) })).toBe(false);
    expect(cache.get("big")).toBeUndefined();
    expect(new ObjectCache(0).remember("k", { plaintext: Buffer.allocUnsafeSlow(4) })).toBe(false);
  });

  it("ownBytes copies only slices", () => {
    const own = Buffer.allocUnsafeSlow(8);
    expect(ownBytes(own)).toBe(own);
    expect(ownBytes(Buffer.from("pooled")).buffer.byteLength).toBe(6);
  });
});
