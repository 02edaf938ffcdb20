/**
 * The verbs over a whole thread, most of them through S3 object versions: listing a thread's
 * checkpoint versions, soft delete and its undo, purging every version and delete marker, thread
 * copies. Prefix work only: everything of a thread lives under one prefix.
 */

import type { ObjectIdentifier } from "@aws-sdk/client-s3";
import pLimit from "p-limit";
import type { ObjectCache } from "./cache.js";
import { isCurrent, storable, type Lineage, type Tombstones } from "./tombstone.js";
import { CheckpointNotFoundError, InvalidArgumentError, PurgeIncompleteError, S3RequestError } from "./errors.js";
import { decodeComponent, type KeyLayout } from "./layout.js";
import type { Logger } from "./logger.js";
import { pack, unpack, type RecordHead } from "./record.js";
import {
  DEFAULT_MAX_OBJECT_BYTES,
  maxEnvelopeBytes,
  open,
  rebind,
  type EnvelopeCipher,
  type StreamedBody,
} from "./codec.js";
import { MAX_BULK_DELETE, type ListedVersion, type S3Store } from "./store.js";
import type { LiveObject } from "./reader.js";

/** One stored version of a checkpoint record. */
export interface CheckpointVersion {
  checkpointId: string;
  checkpointNs: string;
  /** S3 version id: pass it as `config.configurable.s3_version_id` to read exactly this version */
  versionId: string;
  lastModified?: Date;
  /** stored bytes */
  size: number;
  /** the checkpoint's current version is a delete marker (its thread was soft-deleted) */
  deleted: boolean;
}

export interface ListVersionsOptions {
  /** Only this namespace. @default every namespace of the thread */
  checkpointNs?: string;
  /** Include versions of checkpoints whose thread was soft-deleted. @default false */
  includeDeleted?: boolean;
}

/** What `purgeThread` did; also logged as one structured line. */
export interface PurgeReport {
  threadId: string;
  /** distinct keys found */
  keys: number;
  /** versions and delete markers found */
  versionsFound: number;
  versionsDeleted: number;
  /** entries still failing after every retry (0 when the purge is confirmed) */
  failed: number;
  /** shares of the thread revoked with it (their bundles are copies of its state) */
  sharesRevoked: number;
}

/** Passes in a row that delete nothing before a purge gives up on entries S3 keeps refusing. */
export const PURGE_STALLED_PASSES = 3;
/**
 * Passes a purge makes at most: a writer that keeps adding objects to the thread (a run that
 * outlived the purge) cannot keep it going for ever; what it adds is hidden (tombstone.ts).
 */
export const PURGE_MAX_PASSES = 10;

/** Sorts a listing page so each key's entries come newest first (S3 sends versions and markers apart). */
function byKeyNewestFirst(page: ListedVersion[]): ListedVersion[] {
  return [...page].sort((a, b) => {
    if (a.key !== b.key) return a.key < b.key ? -1 : 1;
    if (a.isLatest !== b.isLatest) return a.isLatest ? -1 : 1;
    return (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0);
  });
}

/**
 * Versions of a thread's checkpoint records, newest checkpoint first, page by page. A namespace
 * too long to keep readable in its key is read from the record itself, which takes the
 * checkpointer's cipher (an encrypted thread) and bound (`maxObjectBytes`): `reading`.
 */
export async function* listCheckpointVersions(
  store: S3Store,
  layout: KeyLayout,
  threadId: string,
  options: ListVersionsOptions = {},
  reading: { cipher?: EnvelopeCipher; maxObjectBytes?: number } = {},
): AsyncGenerator<CheckpointVersion> {
  const maxBytes = reading.maxObjectBytes ?? DEFAULT_MAX_OBJECT_BYTES;
  const prefix =
    options.checkpointNs === undefined ? layout.namespaces(threadId) : layout.namespace(threadId, options.checkpointNs);
  const deleted = new Map<string, boolean>();
  for await (const page of store.listVersions(prefix)) {
    for (const v of byKeyNewestFirst(page)) {
      const parsed = layout.parse(v.key);
      if (parsed?.kind !== "record") continue;
      if (!deleted.has(v.key)) deleted.set(v.key, v.isDeleteMarker);
      if (v.isDeleteMarker) continue;
      const isDeleted = deleted.get(v.key) ?? false;
      if (isDeleted && !options.includeDeleted) continue;
      let ns = options.checkpointNs ?? decodeComponent(parsed.ns);
      if (ns === undefined) {
        // a namespace too long to keep readable in the key: the record holds it
        const object = await store.get(v.key, v.versionId, { maxBytes: maxEnvelopeBytes(maxBytes) });
        const opened = object
          ? await open(object.body, { key: v.key, maxBytes, cipher: reading.cipher, consume: true })
          : undefined;
        ns = opened ? unpack<RecordHead>(opened.plaintext, "checkpoint", v.key).head.checkpoint_ns : "";
      }
      yield {
        checkpointId: parsed.checkpointId,
        checkpointNs: ns,
        versionId: v.versionId,
        lastModified: v.lastModified,
        size: v.size,
        deleted: isDeleted,
      };
    }
  }
}

/** Finds the key of a record version by its version id (a scan of the thread's versions). */
export async function findRecordVersion(
  store: S3Store,
  layout: KeyLayout,
  threadId: string,
  ns: string | undefined,
  versionId: string,
): Promise<{ key: string; checkpointId: string; ns: string } | undefined> {
  for await (const v of listCheckpointVersions(store, layout, threadId, { checkpointNs: ns, includeDeleted: true })) {
    if (v.versionId === versionId)
      return {
        key: layout.record(threadId, v.checkpointNs, v.checkpointId),
        checkpointId: v.checkpointId,
        ns: v.checkpointNs,
      };
  }
  return undefined;
}

/**
 * Deletes every current object of a thread: on a versioned bucket each gets a delete marker
 * (undo with {@link restoreThread}), on an unversioned one it is gone. One listing page, then its
 * batch delete: ⌈V/1000⌉ listings and ⌈V/1000⌉ deletes. A continuation token goes on after its
 * last key, deleted or not (measured on Ceph RGW too, whose version listings, unlike this one,
 * end early when their marker is deleted).
 */
export async function deleteThread(
  store: S3Store,
  layout: KeyLayout,
  cache: ObjectCache,
  tombs: Tombstones,
  threadId: string,
): Promise<void> {
  const prefix = layout.thread(threadId);
  // a new token first: the thread reads empty at once, never half-deleted; and again at the
  // end, so a chain begun while the objects were going is hidden too (tombstone.ts)
  await tombs.renew(threadId);
  try {
    for await (const { objects } of store.list(prefix)) {
      if (objects.length === 0) continue;
      const failed = await store.deleteMany(objects.map((o) => ({ Key: o.key })));
      if (failed.length > 0) {
        throw new S3RequestError(
          `deleteThread(): ${failed.length} objects could not be deleted (first: ${failed[0]!.code}); run it again`,
        );
      }
    }
    await tombs.renew(threadId);
  } finally {
    cache.forgetPrefix(prefix);
  }
}

/**
 * Undoes a soft delete: removes the delete markers that sit on top of each key of the thread,
 * so every object is current again exactly as it was. Returns the number of markers removed.
 */
export async function restoreThread(
  store: S3Store,
  layout: KeyLayout,
  cache: ObjectCache,
  tombs: Tombstones,
  threadId: string,
  lineageOf: (recordKey: string) => Promise<Lineage>,
): Promise<number> {
  cache.forgetPrefix(layout.thread(threadId));
  const markers: ObjectIdentifier[] = [];
  let key = "";
  let sawVersion = false;
  let anyVersion = false;
  for await (const page of store.listVersions(layout.thread(threadId))) {
    for (const v of byKeyNewestFirst(page)) {
      if (v.key !== key) {
        key = v.key;
        sawVersion = false;
      }
      if (!v.isDeleteMarker) sawVersion = anyVersion = true;
      else if (!sawVersion) markers.push({ Key: v.key, VersionId: v.versionId });
    }
  }
  if (!anyVersion) {
    throw new CheckpointNotFoundError(
      `restoreThread(): thread ${JSON.stringify(threadId)} has no stored versions to restore: it was purged, or never written`,
    );
  }
  const failed = await store.deleteMany(markers);
  if (failed.length > 0) {
    throw new S3RequestError(
      `restoreThread(): ${failed.length} delete markers could not be removed (first: ${failed[0]!.code}); run it again`,
    );
  }
  // the thread shows again once its token is the one its newest checkpoint was written under
  const newest = await newestRecordKey(store, layout, threadId);
  await tombs.reset(threadId, newest === undefined ? undefined : await lineageOf(newest));
  cache.forgetPrefix(layout.thread(threadId));
  return markers.length;
}

/** The key of the first record listed under the thread's namespaces (the root namespace's newest). */
async function newestRecordKey(store: S3Store, layout: KeyLayout, threadId: string): Promise<string | undefined> {
  for await (const { objects } of store.list(layout.namespaces(threadId))) {
    const found = objects.find((o) => layout.parse(o.key)?.kind === "record");
    if (found) return found.key;
  }
  return undefined;
}

/**
 * Removes every version and delete marker of every key of a thread, in batches of 1,000, retries
 * the entries S3 refuses, and confirms with a listing that finds nothing. Idempotent: a second
 * run finds nothing and reports zeros.
 *
 * Each pass lists everything first and deletes after: deleting while listing would pull the
 * ground from under the listing's marker, and Ceph RGW ends a version listing early when the
 * version its marker names is gone. A pass costs ⌈V/1000⌉ listings (more on RGW, whose pages
 * are shorter) and ⌈V/1000⌉ deletes; the next pass's listing is the confirmation.
 */
export async function purgeThread(
  store: S3Store,
  layout: KeyLayout,
  cache: ObjectCache,
  tombs: Tombstones,
  logger: Logger,
  threadId: string,
  revokeShares: () => Promise<number> = async () => 0,
): Promise<PurgeReport> {
  cache.forgetPrefix(layout.thread(threadId));
  // as deleteThread: hidden at once, and whatever a run still going writes meanwhile stays hidden
  await tombs.renew(threadId);
  // the thread's shares hold copies of its state: a purge leaves none behind
  const sharesRevoked = await revokeShares();
  const prefix = layout.thread(threadId);
  const keys = new Set<string>();
  const seen = new Set<string>();
  const report: PurgeReport = { threadId, keys: 0, versionsFound: 0, versionsDeleted: 0, failed: 0, sharesRevoked };
  let stalled = 0;
  for (let pass = 1; ; pass += 1) {
    const entries: ObjectIdentifier[] = [];
    for await (const page of store.listVersions(prefix)) {
      for (const v of page) {
        keys.add(v.key);
        entries.push({ Key: v.key, VersionId: v.versionId });
        const id = `${v.key}\u0000${v.versionId}`;
        if (!seen.has(id)) {
          seen.add(id);
          report.versionsFound += 1;
        }
      }
    }
    report.keys = keys.size;
    report.failed = entries.length;
    // confirmed: a listing from the start found nothing, not even a delete marker
    if (entries.length === 0) break;
    let deleted = 0;
    for (let i = 0; i < entries.length; i += MAX_BULK_DELETE) {
      const batch = entries.slice(i, i + MAX_BULK_DELETE);
      try {
        const refused = await store.deleteMany(batch);
        deleted += batch.length - refused.length;
        if (refused.length > 0)
          logger.warn(
            { threadId, pass, refused: refused.length, code: refused[0]!.code },
            "purge: S3 refused some deletes; retrying",
          );
      } catch (e) {
        logger.warn(
          { threadId, pass, entries: batch.length, error: (e as Error).message },
          "purge: a batch failed; retrying",
        );
      }
    }
    report.versionsDeleted += deleted;
    stalled = deleted === 0 ? stalled + 1 : 0;
    if (stalled >= PURGE_STALLED_PASSES || pass >= PURGE_MAX_PASSES) {
      // the report must be true: count what a last listing still finds
      report.failed = 0;
      for await (const page of store.listVersions(prefix)) report.failed += page.length;
      break;
    }
  }
  await tombs.renew(threadId);
  cache.forgetPrefix(prefix);
  logger.info({ ...report }, "purged thread");
  if (report.failed > 0) {
    throw new PurgeIncompleteError(
      `purgeThread(): ${report.failed} versions of thread ${JSON.stringify(threadId)} are still stored (S3 refused their deletes, or a writer kept adding them); they are hidden from readers; run it again`,
      { ...report },
    );
  }
  return report;
}

/**
 * Copies every current object of a thread to another thread, each body re-bound to its new
 * key (codec.ts `rebind`): side objects first, records last, so the copy never shows a record
 * whose parts are missing. The target thread must be empty.
 */
export async function copyThread(
  store: S3Store,
  layout: KeyLayout,
  from: string,
  to: string,
  options: {
    concurrency: number;
    maxObjectBytes: number;
    cipher: EnvelopeCipher | undefined;
    tombs: Tombstones;
    reseal: (plaintext: Buffer, key: string) => Promise<{ body: Buffer | StreamedBody; sha256: string }>;
    /** the source's live keys, each with the version that is its content where that is pinned */
    live: (prefix: string) => AsyncIterable<{ objects: LiveObject[] }>;
  },
): Promise<number> {
  const { concurrency, maxObjectBytes, reseal, tombs, cipher, live } = options;
  if (from === to) throw new InvalidArgumentError("copyThread(): the source and target threads are the same");
  const target = layout.thread(to);
  const source = layout.thread(from);
  const records: LiveObject[] = [];
  const others: LiveObject[] = [];
  // is the target empty? asked while the source is listed
  const [existing, sourceLineage, targetLineage] = await Promise.all([
    store.list(target, { pageSize: 1 }).next(),
    tombs.current(from),
    tombs.current(to).then(storable),
    (async () => {
      for await (const { objects } of live(source)) {
        for (const o of objects) (layout.parse(o.key)?.kind === "record" ? records : others).push(o);
      }
    })(),
  ]);
  if (!existing.done && existing.value.objects.length > 0) {
    throw new InvalidArgumentError(
      `copyThread(): thread ${JSON.stringify(to)} already has checkpoints; delete or purge it first`,
    );
  }
  const limit = pLimit(concurrency);
  // not a server-side CopyObject: every body is bound to its key, so it is re-bound to the new one
  let copied = 0;
  const copyOne = async ({ key, versionId }: LiveObject) => {
    const targetKey = target + key.slice(source.length);
    const object = await store.get(key, versionId === "null" ? undefined : versionId, {
      maxBytes: maxEnvelopeBytes(maxObjectBytes),
    });
    if (!object) return; // deleted meanwhile
    let moved: { body: Buffer | StreamedBody; sha256: string };
    const kind = layout.parse(key)?.kind;
    if (kind === "record" || kind === "writes") {
      // records and writes name their thread inside: the copy names the new one, or readers
      // (rightly) refuse it as an object from elsewhere
      const { plaintext } = await open(object.body, { key, maxBytes: maxObjectBytes, cipher });
      const { head, sections } = unpack<{ kind: string; thread_id: string; lineage?: string }>(
        plaintext,
        kind === "record" ? "checkpoint" : "writes",
        key,
      );
      if (kind === "writes") {
        moved = await reseal(pack({ ...head, thread_id: to }, sections), targetKey);
      } else {
        // a record hidden in the source (a late write after a delete) stays behind; the copies
        // take the target's generation, so they show there
        if (!isCurrent(head.lineage, sourceLineage)) return;
        const { lineage: _old, ...rest } = head;
        moved = await reseal(
          pack({ ...rest, thread_id: to, ...(targetLineage ? { lineage: targetLineage } : {}) }, sections),
          targetKey,
        );
      }
    } else {
      moved = await rebind(object.body, { from: key, to: targetKey, maxBytes: maxObjectBytes, cipher });
    }
    await store.put(targetKey, moved.body, { sha256: moved.sha256 });
    copied += 1;
  };
  const copy = (objects: LiveObject[]) => Promise.all(objects.map((o) => limit(() => copyOne(o))));
  await copy(others);
  await copy(records);
  return copied;
}
