/**
 * Giving the memory of a large buffer back at once, instead of when the garbage collector next
 * runs. A read of a large state holds, one after the other, the downloaded body, the plaintext,
 * the serializer's text and the value; each step's input is dead once the next has its output,
 * but V8 frees a dead buffer only at its next collection, which a large string or a few large
 * buffers do not reliably bring about. So the peak of a read was all four at once (3.2× a 100 MB
 * state, see README, Speed) where two are needed.
 *
 * `ArrayBuffer.prototype.transfer(0)` (ES2024; Node.js 22+) detaches a buffer: its memory goes
 * back at once, and every view of it reads as empty from then on. That is only right for memory
 * nothing else can see, so callers release only what they alone made and hold (a body just
 * downloaded for one read, a plaintext that no cache kept), and only views of at least
 * {@link RELEASE_MIN_BYTES}: memory shared by small buffers (Node's 8 KiB pool, a socket's 64 KiB
 * read buffers) is never behind a view that large. On Node 20, which has no `transfer`, this does
 * nothing and the collector frees the buffer as before.
 */

/**
 * Views smaller than this are left to the garbage collector: the gain would be small, and small
 * buffers may share their memory with others.
 */
export const RELEASE_MIN_BYTES = 1 << 20;

type Transferable = ArrayBuffer & { transfer?: (newLength?: number) => ArrayBuffer };

/**
 * Gives back the memory behind `bytes` (its whole `ArrayBuffer`) at once, where `bytes` holds at
 * least {@link RELEASE_MIN_BYTES} and the runtime can detach it; otherwise does nothing. The
 * caller must be the only holder of that memory: every view of it is empty afterwards. (A decoded
 * plaintext is often a view of a buffer one byte longer, node:zlib's output chunk.)
 *
 * @example
 * ```ts
 * const text = new TextDecoder().decode(plaintext);
 * release(plaintext); // nothing reads the bytes again
 * ```
 */
export function release(bytes: Uint8Array): void {
  const buffer = bytes.buffer as Transferable;
  if (bytes.byteLength < RELEASE_MIN_BYTES || typeof buffer.transfer !== "function") return;
  try {
    buffer.transfer(0);
  } catch {
    // not detachable (WebAssembly memory, a buffer pinned by the runtime): left to the collector
  }
}
