/**
 * Checking stored state: every current object of a thread (or of every thread) is read, its
 * envelope opened (checksums, key binding, decryption) and its record or writes frame validated,
 * and every record's references (channel values under `b/`, values inline in another record)
 * are looked up among the listed keys. Corrupt objects, and records whose parts are missing or
 * corrupt, are reported by key; with `quarantine` they are moved aside to `{prefix}quarantine/…`,
 * so the thread's other checkpoints read again (a corrupt old checkpoint would otherwise fail
 * every `list` that reaches it).
 */

import pLimit from "p-limit";
import { open, type EnvelopeCipher } from "./codec.js";
import { isS3CheckpointerError } from "./errors.js";
import type { KeyLayout } from "./layout.js";
import { channelRef, unpack, type RecordHead } from "./record.js";
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
  /**
   * the corrupt ones: key, error code (`CHECKPOINT_CORRUPTED`, `DECRYPTION_FAILED`, or
   * `MISSING_PART` for a record that refers to a value that is gone or corrupt) and why
   */
  corrupt: { key: string; code: string; reason: string }[];
  /** keys moved to quarantine (with `quarantine`) */
  quarantined: string[];
}

export async function verifyObjects(
  deps: {
    store: S3Store;
    layout: KeyLayout;
    cipher: EnvelopeCipher | undefined;
    maxObjectBytes: number;
    concurrency: number;
  },
  options: VerifyOptions,
  onObject?: (checked: number) => void,
): Promise<VerifyReport> {
  const { store, layout, cipher, maxObjectBytes } = deps;
  const prefix = options.threadId === undefined ? layout.threadsRoot : layout.thread(options.threadId);
  const report: VerifyReport = { objects: 0, corrupt: [], quarantined: [] };
  const limit = pLimit(deps.concurrency);
  const listed = new Set<string>();
  const bad = new Set<string>();
  /** what each readable record refers to: it cannot be read without them */
  const parts = new Map<string, string[]>();
  const quarantine = async (key: string, body: Buffer) => {
    await store.put(layout.quarantine(key), body, { sha256: "quarantined" });
    const failed = await store.deleteMany([{ Key: key }]);
    if (failed.length === 0) report.quarantined.push(key);
  };
  const check = async (key: string) => {
    const object = await store.get(key);
    if (!object) return; // deleted meanwhile
    try {
      const { plaintext } = await open(object.body, { key, maxBytes: maxObjectBytes, cipher });
      const kind = layout.parse(key)?.kind;
      if (kind === "record") {
        const { head } = unpack<RecordHead>(plaintext, "checkpoint", key);
        parts.set(key, referencedKeys(layout, head));
      } else if (kind === "writes") unpack(plaintext, "writes", key);
    } catch (e) {
      if (!isS3CheckpointerError(e) || (e.code !== "CHECKPOINT_CORRUPTED" && e.code !== "DECRYPTION_FAILED")) throw e;
      bad.add(key);
      report.corrupt.push({ key, code: e.code, reason: e.message });
      if (options.quarantine) await quarantine(key, object.body);
    } finally {
      report.objects += 1;
      onObject?.(report.objects);
    }
  };
  for await (const { objects } of store.list(prefix)) {
    for (const o of objects) listed.add(o.key);
    await Promise.all(objects.map((o) => limit(() => check(o.key))));
  }
  // a record whose parts are gone cannot be read either; moving it aside may take a part from
  // another record (a value inline in it), so this goes on until nothing more is found
  for (let found = true; found;) {
    found = false;
    for (const [key, needs] of parts) {
      const missing = needs.find((k) => !listed.has(k) || bad.has(k));
      if (missing === undefined) continue;
      found = true;
      parts.delete(key);
      bad.add(key);
      report.corrupt.push({
        key,
        code: "MISSING_PART",
        reason: `refers to ${missing}, which is ${listed.has(missing) ? "corrupt" : "missing"}`,
      });
      const object = options.quarantine ? await store.get(key) : undefined;
      if (object) await quarantine(key, object.body);
    }
  }
  report.corrupt.sort((a, b) => (a.key < b.key ? -1 : 1));
  return report;
}

/** The keys a record's channel references name: value objects, and records holding a value inline. */
function referencedKeys(layout: KeyLayout, head: RecordHead): string[] {
  const keys = new Set<string>();
  for (const channel of Object.keys(head.channels)) {
    const ref = channelRef(head.channels, channel)!;
    if (ref.at === "blob") keys.add(layout.blob(head.thread_id, head.checkpoint_ns, channel, ref.v));
    else if (ref.at === "record") keys.add(layout.record(head.thread_id, head.checkpoint_ns, ref.id));
  }
  return [...keys];
}
