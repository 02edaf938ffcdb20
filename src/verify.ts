/**
 * Checking stored state: every current object of a thread (or of every thread) is read, its
 * envelope opened (checksums, key binding, decryption) and its record or writes frame validated.
 * Corrupt objects are reported by key; with `quarantine` they are moved aside to
 * `{prefix}quarantine/…`, so the thread's other checkpoints read again (a corrupt old checkpoint
 * would otherwise fail every `list` that reaches it).
 */

import pLimit from "p-limit";
import { open, type EnvelopeCipher } from "./codec.js";
import { isS3CheckpointerError } from "./errors.js";
import type { KeyLayout } from "./layout.js";
import { unpack } from "./record.js";
import type { S3Store } from "./store.js";

export interface VerifyOptions {
  /** Only this thread. @default every thread */
  threadId?: string;
  /** Move corrupt objects to `{prefix}quarantine/` (kept, never deleted). @default false */
  quarantine?: boolean;
}

export interface VerifyReport {
  /** objects read and checked */
  objects: number;
  /** the corrupt ones: key, error code and why */
  corrupt: { key: string; code: string; reason: string }[];
  /** keys moved to quarantine (with `quarantine`) */
  quarantined: string[];
}

export async function verifyObjects(
  deps: { store: S3Store; layout: KeyLayout; cipher: EnvelopeCipher | undefined; maxObjectBytes: number; concurrency: number },
  options: VerifyOptions,
  onObject?: (checked: number) => void,
): Promise<VerifyReport> {
  const { store, layout, cipher, maxObjectBytes } = deps;
  const prefix = options.threadId === undefined ? layout.threadsRoot : layout.thread(options.threadId);
  const report: VerifyReport = { objects: 0, corrupt: [], quarantined: [] };
  const limit = pLimit(deps.concurrency);
  const check = async (key: string) => {
    const object = await store.get(key);
    if (!object) return; // deleted meanwhile
    try {
      const { plaintext } = await open(object.body, { key, maxBytes: maxObjectBytes, cipher });
      const kind = layout.parse(key)?.kind;
      if (kind === "record") unpack(plaintext, "checkpoint", key);
      else if (kind === "writes") unpack(plaintext, "writes", key);
    } catch (e) {
      if (!isS3CheckpointerError(e) || (e.code !== "CHECKPOINT_CORRUPTED" && e.code !== "DECRYPTION_FAILED")) throw e;
      report.corrupt.push({ key, code: e.code, reason: e.message });
      if (options.quarantine) {
        const target = layout.quarantine(key);
        await store.put(target, object.body, { sha256: "quarantined" });
        const failed = await store.deleteMany([{ Key: key }]);
        if (failed.length === 0) report.quarantined.push(key);
      }
    } finally {
      report.objects += 1;
      onObject?.(report.objects);
    }
  };
  for await (const { objects } of store.list(prefix)) {
    await Promise.all(objects.map((o) => limit(() => check(o.key))));
  }
  report.corrupt.sort((a, b) => (a.key < b.key ? -1 : 1));
  return report;
}
