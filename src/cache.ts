/**
 * The cache of immutable objects (records and channel values), opened: a repeated read costs no
 * request. Shared by the reader (which fills it from reads) and the writer (which fills it with
 * what it has just written); the thread verbs drop a thread's entries when they change it.
 */

import { LRUCache } from "lru-cache";

/** An object as it was opened: its plaintext, the serializer type it names, its S3 version. */
export interface OpenedObject {
  plaintext: Buffer;
  /** the serde type of a channel value stored on its own */
  type?: string;
  versionId?: string;
  /** SHA-256 of the plaintext, where the read knows it */
  sha256?: string;
}

/** Bytes an entry holds beyond its plaintext: the entry, its fields, its key (UTF-16). */
export const CACHE_ENTRY_OVERHEAD_BYTES = 512;

/** What an entry really keeps alive, so `cacheMaxBytes` bounds memory, not just plaintext. */
export function retainedBytes(entry: OpenedObject, key: string): number {
  return entry.plaintext.buffer.byteLength + key.length * 2 + CACHE_ENTRY_OVERHEAD_BYTES;
}

/**
 * The bytes in a buffer of their own: a slice of a larger buffer (a body read whole, Node's
 * 8 KiB pool) would keep all of it alive in the cache.
 */
export function ownBytes(bytes: Buffer): Buffer {
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength) return bytes;
  const own = Buffer.allocUnsafeSlow(bytes.byteLength);
  bytes.copy(own);
  return own;
}

/** The cache key of a key, or of one version of it. */
function cacheKey(key: string, versionId?: string): string {
  return versionId ? `${key}?versionId=${versionId}` : key;
}

/** An LRU bounded by retained bytes; with `maxBytes` 0 it keeps nothing. */
export class ObjectCache {
  private readonly lru: LRUCache<string, OpenedObject> | undefined;

  constructor(maxBytes: number) {
    this.lru =
      maxBytes > 0
        ? new LRUCache({ maxSize: maxBytes, sizeCalculation: (v, key) => retainedBytes(v, key) })
        : undefined;
  }

  get(key: string, versionId?: string): OpenedObject | undefined {
    return this.lru?.get(cacheKey(key, versionId));
  }

  /**
   * Keeps `object` under `key` (and `versionId`), in a buffer of its own. Returns whether the
   * cache now shares `object.plaintext` itself (it was kept, and not copied): then the caller is
   * no longer its only holder. An object larger than the bound is not kept.
   */
  remember(key: string, object: OpenedObject, versionId?: string): boolean {
    if (!this.lru) return false;
    const plaintext = ownBytes(object.plaintext);
    const at = cacheKey(key, versionId);
    this.lru.set(at, { ...object, plaintext });
    return plaintext === object.plaintext && this.lru.peek(at)?.plaintext === plaintext;
  }

  /** Drops every entry whose key starts with `prefix` (a thread that was deleted or purged). */
  forgetPrefix(prefix: string): void {
    if (!this.lru) return;
    for (const key of this.lru.keys()) if (key.startsWith(prefix)) this.lru.delete(key);
  }

  /** Bytes held, as counted against the bound. */
  get retainedBytes(): number {
    return this.lru?.calculatedSize ?? 0;
  }
}
