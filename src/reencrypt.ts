/**
 * Key rotation for stored state: `reencryptThread` rewrites every current object of a thread
 * that is not under the current key (an older key, or no encryption at all) with the same
 * plaintext under the current key. Objects already under it are left alone, so a run that was
 * interrupted is finished by running it again.
 */

import pLimit from "p-limit";
import { open, seal, type EnvelopeCipher, type ResolvedCompression } from "./codec.js";
import { currentKeyIdOf, isCurrentKeyOf } from "./crypto.js";
import { InvalidArgumentError } from "./errors.js";
import type { KeyLayout } from "./layout.js";
import type { Logger } from "./logger.js";
import type { ImmutableWriter } from "./immutability.js";
import type { LiveObject } from "./reader.js";
import type { S3Store } from "./store.js";

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
  const { store, layout, cipher, compression, maxObjectBytes } = deps;
  const current = cipher ? currentKeyIdOf(cipher) : undefined;
  if (!cipher || current === undefined) {
    throw new InvalidArgumentError(
      "reencryptThread(): this checkpointer has no `encryption` option; configure the keys first",
    );
  }
  const kid = await current;
  const report: ReencryptReport = {
    threadId,
    objects: 0,
    reencrypted: 0,
    alreadyCurrent: 0,
    olderVersionsKeepOldKeys: false,
  };
  const limit = pLimit(deps.concurrency);
  for await (const { objects } of deps.live(layout.thread(threadId))) {
    report.objects += objects.length;
    await Promise.all(
      objects.map(({ key, versionId }) =>
        limit(async () => {
          const object = await store.get(key, versionId === "null" ? undefined : versionId);
          if (!object) return; // deleted meanwhile
          const opened = await open(object.body, { key, maxBytes: maxObjectBytes, cipher });
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
          // a key written once: where its first version wins, the versions this one replaces are
          // removed; special writes are replaced anyway, the newest wins
          const replaceable = layout.parse(key)?.kind === "writes" && !key.endsWith("/r");
          if (replaceable) await store.put(key, sealed.body, { sha256: sealed.sha256 });
          else await deps.once.supersede(key, sealed.body, sealed.sha256);
          report.reencrypted += 1;
        }),
      ),
    );
  }
  report.olderVersionsKeepOldKeys = deps.versioned && report.reencrypted > 0;
  deps.logger.info({ ...report, keyId: kid }, "re-encrypted thread");
  return report;
}
