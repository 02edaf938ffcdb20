/**
 * Key rotation for stored state: `reencryptThread` rewrites every current object of a thread
 * that is not under the current key (an older key, or no encryption at all) with the same
 * plaintext under the current key. Objects already under it are left alone, so a run that was
 * interrupted is finished by running it again.
 *
 * A graph may write the thread meanwhile: a special write (error, interrupt) replaced, or the
 * thread deleted, after an object was read must not be undone by its rewrite. Each rewrite is
 * conditional on the object being as it was read (immutability.ts `rewrite`: `If-Match` on the
 * ETag read where the store honours it, a version check on versioned buckets that do not); an
 * object that changed is read again and rewritten from what it holds now.
 */

import pLimit from "p-limit";
import { maxEnvelopeBytes, open, seal, type EnvelopeCipher, type ResolvedCompression } from "./codec.js";
import { currentKeyIdOf, isCurrentKeyOf } from "./crypto.js";
import { InvalidArgumentError } from "./errors.js";
import type { KeyLayout } from "./layout.js";
import type { Logger } from "./logger.js";
import { liveVersion, type ImmutableWriter, type RewriteBase, type RewriteGuard } from "./immutability.js";
import type { LiveObject } from "./reader.js";
import type { S3Store } from "./store.js";

/** Reads of one object before a rewrite that keeps finding it changed is left to the next run. */
const MAX_REWRITE_ATTEMPTS = 3;

/** What `reencryptThread` did. */
export interface ReencryptReport {
  threadId: string;
  /** current objects of the thread found */
  objects: number;
  /** objects rewritten under the current key */
  reencrypted: number;
  /** objects already under the current key, left as they were */
  alreadyCurrent: number;
  /**
   * objects a writer kept changing while they were rewritten (read and tried
   * {@link MAX_REWRITE_ATTEMPTS} times): left as the writer wrote them; run it again
   */
  changedMeanwhile: number;
  /** how rewrites were kept from replacing what a writer changed meanwhile (see README, Encryption) */
  rewriteGuard: RewriteGuard;
  /**
   * On a versioned bucket the rewritten objects' older versions keep their old key until the
   * lifecycle rule expires them or `purgeThread` removes them: keep old keys until then.
   */
  olderVersionsKeepOldKeys: boolean;
}

export async function reencryptThread(
  deps: {
    store: S3Store;
    layout: KeyLayout;
    logger: Logger;
    cipher: EnvelopeCipher | undefined;
    compression: ResolvedCompression;
    maxObjectBytes: number;
    concurrency: number;
    versioned: boolean;
    once: ImmutableWriter;
    /** the thread's live keys, each with the version that is its content where that is pinned */
    live: (prefix: string) => AsyncIterable<{ objects: LiveObject[] }>;
  },
  threadId: string,
): Promise<ReencryptReport> {
  const { store, layout, cipher, compression, maxObjectBytes, once } = deps;
  const current = cipher ? currentKeyIdOf(cipher) : undefined;
  if (!cipher || current === undefined) {
    throw new InvalidArgumentError(
      "reencryptThread(): this checkpointer has no `encryption` option; configure the keys first",
    );
  }
  const kid = await current;
  const { guard } = await once.rewriteGuard();
  const report: ReencryptReport = {
    threadId,
    objects: 0,
    reencrypted: 0,
    alreadyCurrent: 0,
    changedMeanwhile: 0,
    rewriteGuard: guard,
    olderVersionsKeepOldKeys: false,
  };

  /** One object: read, and rewritten unless it changed since; read again when it did. */
  const reencryptOne = async (listed: LiveObject) => {
    const { key } = listed;
    // special writes are replaced (the newest is their content); every other key is written once
    const immutable = !(layout.parse(key)?.kind === "writes" && !key.endsWith("/r"));
    for (let attempt = 0; attempt < MAX_REWRITE_ATTEMPTS; attempt += 1) {
      let { versionId, latest } = attempt === 0 ? listed : { versionId: undefined, latest: true };
      const base: RewriteBase = {};
      if (guard === "version-check" || (attempt > 0 && deps.versioned)) {
        // the versions as they are before the read: what the rewrite checks against
        const entries = await store.entriesOf(key);
        versionId = liveVersion(entries, immutable ? "first" : "newest");
        if (versionId === undefined) return; // deleted meanwhile
        latest = entries.some((e) => e.versionId === versionId && e.isLatest);
        base.entries = entries;
      }
      const pinned = versionId !== undefined && versionId !== "null";
      const object = await store.get(key, pinned ? versionId : undefined, {
        maxBytes: maxEnvelopeBytes(maxObjectBytes),
      });
      if (!object) return; // deleted meanwhile
      // the condition is on the key's current ETag: the version read, unless a later one is on top
      base.etag = !pinned || latest ? object.etag : await store.headEtag(key);
      const opened = await open(object.body, { key, maxBytes: maxObjectBytes, cipher, consume: true });
      if (await isCurrentKeyOf(cipher, opened.header.e?.kid)) {
        report.alreadyCurrent += 1;
        return;
      }
      const sealed = await seal(opened.plaintext, {
        compression,
        key,
        type: opened.header.t,
        maxBytes: maxObjectBytes,
        cipher,
      });
      if ((await once.rewrite(key, sealed.body, sealed.sha256, base, immutable)) === "written") {
        report.reencrypted += 1;
        return;
      }
    }
    report.changedMeanwhile += 1;
  };

  const limit = pLimit(deps.concurrency);
  for await (const { objects } of deps.live(layout.thread(threadId))) {
    report.objects += objects.length;
    await Promise.all(objects.map((listed) => limit(() => reencryptOne(listed))));
  }
  report.olderVersionsKeepOldKeys = deps.versioned && report.reencrypted > 0;
  deps.logger.info({ ...report, keyId: kid }, "re-encrypted thread");
  return report;
}
