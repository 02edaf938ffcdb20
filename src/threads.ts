/**
 * Listing threads: the folders under `{prefix}threads/`, one per thread, in key order. Cheap by
 * default (one `ListObjectsV2` with a delimiter per 1,000 threads); `details: true` lists each
 * thread's objects too (one more listing per 1,000 objects of each thread) for counts and sizes.
 */

import { decodeComponent, type KeyLayout } from "./layout.js";
import type { TupleReader } from "./reader.js";
import type { S3Store } from "./store.js";

export interface ListThreadsOptions {
  /** At most this many threads. @default all */
  limit?: number;
  /** Start after this thread id (the last one of a previous page). */
  after?: string;
  /** Count checkpoints, namespaces and bytes of each thread (one listing per 1,000 objects). @default false */
  details?: boolean;
}

export interface ThreadInfo {
  threadId: string;
  /** with `details`: the thread's namespaces ("" is the root graph's) */
  namespaces?: string[];
  /** with `details`: checkpoint records stored */
  checkpoints?: number;
  /** with `details`: bytes of all its current objects */
  bytes?: number;
  /** with `details`: when its newest object was written */
  lastCheckpointAt?: Date;
}

export async function* listThreads(
  store: S3Store,
  layout: KeyLayout,
  reader: TupleReader,
  options: ListThreadsOptions = {},
): AsyncGenerator<ThreadInfo> {
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  if (remaining <= 0) return;
  const startAfter = options.after === undefined ? undefined : layout.thread(options.after);
  for await (const folders of store.listFolders(layout.threadsRoot, { startAfter })) {
    for (const folder of folders) {
      const component = folder.slice(layout.threadsRoot.length, -1);
      const info = await describe(store, layout, reader, folder, component, options.details ?? false);
      if (!info) continue;
      yield info;
      if (--remaining <= 0) return;
    }
  }
}

async function describe(
  store: S3Store,
  layout: KeyLayout,
  reader: TupleReader,
  folder: string,
  component: string,
  details: boolean,
): Promise<ThreadInfo | undefined> {
  let threadId = decodeComponent(component);
  if (!details && threadId !== undefined) return { threadId };
  const namespaces = new Set<string>();
  let checkpoints = 0;
  let bytes = 0;
  let last: Date | undefined;
  let aRecord: string | undefined;
  for await (const { objects } of store.list(folder)) {
    for (const o of objects) {
      bytes += o.size;
      if (o.lastModified && (!last || o.lastModified > last)) last = o.lastModified;
      const parsed = layout.parse(o.key);
      if (parsed?.kind !== "record") continue;
      checkpoints += 1;
      aRecord ??= o.key;
      namespaces.add(parsed.ns);
    }
    if (!details && aRecord) break;
  }
  if (threadId === undefined) {
    // a long id is stored as a digest: the record names the thread it belongs to
    if (!aRecord) return undefined;
    const record = await reader.readRecord(aRecord, {});
    if (!record) return undefined;
    threadId = record.head.thread_id;
  }
  if (!details) return { threadId };
  return {
    threadId,
    namespaces: [...namespaces].map((ns) => decodeComponent(ns) ?? ns).sort(),
    checkpoints,
    bytes,
    lastCheckpointAt: last,
  };
}
