import { describe, expect, it } from "vitest";
import { RELEASE_MIN_BYTES, release } from "../../src/release.js";

const canDetach = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === "function";

describe("release", () => {
  it("gives a whole large buffer back at once where the runtime can detach it (Node 22+), else leaves it", () => {
    const bytes = Buffer.allocUnsafeSlow(RELEASE_MIN_BYTES);
    bytes.fill(7);
    release(bytes);
    // detached, it reads as empty; on Node 20 (no ArrayBuffer.prototype.transfer) it is as it was
    expect(bytes.byteLength).toBe(canDetach ? 0 : RELEASE_MIN_BYTES);
    expect(bytes.buffer.byteLength).toBe(canDetach ? 0 : RELEASE_MIN_BYTES);
  });

  it("leaves a buffer smaller than the bound to the collector", () => {
    const bytes = Buffer.allocUnsafeSlow(RELEASE_MIN_BYTES - 1).fill(7);
    release(bytes);
    expect(bytes.byteLength).toBe(RELEASE_MIN_BYTES - 1);
    expect(bytes[0]).toBe(7);
  });

  it("never touches a small view, whose memory may be shared (Node's pool)", () => {
    const pooled = Buffer.from("pooled");
    const neighbour = Buffer.from("neighbour");
    release(pooled);
    expect(pooled.toString()).toBe("pooled");
    expect(neighbour.toString()).toBe("neighbour");
  });

  it("gives back all the memory behind a large view (node:zlib's output is one byte longer)", () => {
    const whole = Buffer.allocUnsafeSlow(RELEASE_MIN_BYTES + 1).fill(7);
    const view = whole.subarray(0, RELEASE_MIN_BYTES);
    release(view);
    expect(whole.byteLength).toBe(canDetach ? 0 : RELEASE_MIN_BYTES + 1);
  });

  it("does nothing to a buffer already released, or one that cannot be detached", () => {
    const bytes = Buffer.allocUnsafeSlow(RELEASE_MIN_BYTES);
    release(bytes);
    expect(() => release(bytes)).not.toThrow();
    // 2 MiB of WebAssembly memory, which the runtime refuses to detach
    type Wasm = { Memory: new (descriptor: { initial: number }) => { buffer: ArrayBuffer } };
    const memory = new (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly.Memory({ initial: 32 });
    const view = new Uint8Array(memory.buffer);
    expect(() => release(view)).not.toThrow();
    expect(memory.buffer.byteLength).toBe(32 * 65536);
  });
});
