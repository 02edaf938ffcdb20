/**
 * What every command shares: the checkpointer built from the environment and the global flags,
 * output (text, or `--json` for scripts), confirmation of destructive commands, progress bars
 * (only on a terminal), and the exit codes: 0 ok, 1 failure, 2 usage.
 */

import { createInterface } from "node:readline/promises";
import cliProgress from "cli-progress";
import { S3Checkpointer } from "../checkpointer.js";
import type { EncryptionOptions } from "../crypto.js";
import { InvalidOptionError } from "../errors.js";

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {}

export interface GlobalFlags {
  bucket?: string;
  prefix?: string;
  endpoint?: string;
  region?: string;
  json?: boolean;
  yes?: boolean;
}

/**
 * Client-side encryption keys from `LANGGRAPH_S3_ENCRYPTION_KEYS` (JSON `{ "keyId": "base64 key" }`)
 * and `LANGGRAPH_S3_ENCRYPTION_KEY_ID` (the current one; the only one when there is one).
 */
function encryptionFromEnv(): EncryptionOptions | undefined {
  const raw = process.env.LANGGRAPH_S3_ENCRYPTION_KEYS;
  if (!raw) return undefined;
  let keys: Record<string, string>;
  try {
    keys = JSON.parse(raw) as Record<string, string>;
  } catch {
    throw new UsageError('LANGGRAPH_S3_ENCRYPTION_KEYS must be JSON: { "keyId": "base64 key", ... }');
  }
  const ids = Object.keys(keys ?? {});
  const currentKeyId = process.env.LANGGRAPH_S3_ENCRYPTION_KEY_ID ?? (ids.length === 1 ? ids[0] : undefined);
  if (!currentKeyId) throw new UsageError("set LANGGRAPH_S3_ENCRYPTION_KEY_ID to the key new objects are written with");
  return { keys, currentKeyId };
}

/** The checkpointer of the flags and the environment (the variables of `S3Checkpointer.fromEnv()`). */
export function checkpointerOf(flags: GlobalFlags): S3Checkpointer {
  const bucket = flags.bucket ?? process.env.LANGGRAPH_S3_BUCKET;
  if (!bucket) throw new UsageError("no bucket: pass --bucket or set LANGGRAPH_S3_BUCKET");
  const endpoint = flags.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  try {
    return S3Checkpointer.fromEnv({
      bucket,
      ...(flags.prefix !== undefined ? { prefix: flags.prefix } : {}),
      clientConfig: {
        ...(endpoint ? { endpoint } : {}),
        ...(flags.region ? { region: flags.region } : {}),
      },
      encryption: encryptionFromEnv(),
    });
  } catch (e) {
    if (e instanceof InvalidOptionError) throw new UsageError(e.message);
    throw e;
  }
}

/** Prints `data` as JSON with `--json`, else as `text(data)`. */
export function output<T>(flags: GlobalFlags, data: T, text: (data: T) => string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(data, null, 2)}\n` : `${text(data)}\n`);
}

/**
 * Destructive commands: on a terminal, asks; elsewhere (scripts, CI) needs `--yes`, so nothing is
 * destroyed by a command run without a human to ask.
 */
export async function confirm(flags: GlobalFlags, question: string): Promise<void> {
  if (flags.yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`${question.replace(/\?$/, "")}: pass --yes to confirm when not on a terminal`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`${question} [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError("not confirmed; nothing was changed");
}

/** A progress bar on a terminal (never with `--json` or when stdout is a pipe or file). */
export function progress(flags: GlobalFlags, what: string): { update(done: number, total?: number): void; stop(): void } {
  if (flags.json || !process.stdout.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${what} [{bar}] {value}{totalText}`, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total ?? 0, 0, { totalText: "" });
        started = true;
      }
      if (total !== undefined) bar.setTotal(total);
      bar.update(done, { totalText: total !== undefined ? `/${total}` : "" });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
