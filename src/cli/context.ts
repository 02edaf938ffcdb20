/**
 * What every command shares: the checkpointer built from the environment and the global flags,
 * output (text, or `--json` for scripts), confirmation of destructive commands, progress bars
 * (only on a terminal), durations, and the exit codes: 0 ok, 1 failure, 2 usage.
 */

import { createInterface } from "node:readline/promises";
import cliProgress from "cli-progress";
import { InvalidArgumentError as CommanderArgumentError } from "commander";
import { S3Checkpointer } from "../checkpointer.js";
import type { EncryptionOptions } from "../crypto.js";
import { InvalidOptionError } from "../errors.js";

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The flags every command takes (see `buildProgram`). */
export interface GlobalFlags {
  bucket?: string;
  prefix?: string;
  endpoint?: string;
  region?: string;
  json?: boolean;
  yes?: boolean;
}

/** Reads the global flags at the time a command runs. */
export type Globals = () => GlobalFlags;

/**
 * Client-side encryption keys from `LANGGRAPH_S3_ENCRYPTION_KEYS` (JSON `{ "keyId": "base64 key" }`)
 * and `LANGGRAPH_S3_ENCRYPTION_KEY_ID` (the current one; the only one when there is one).
 */
function encryptionFromEnv(): EncryptionOptions | undefined {
  const raw = process.env.LANGGRAPH_S3_ENCRYPTION_KEYS;
  if (!raw) return undefined;
  let keys: unknown;
  try {
    keys = JSON.parse(raw);
  } catch {
    throw new UsageError('LANGGRAPH_S3_ENCRYPTION_KEYS must be JSON: { "keyId": "base64 key", ... }');
  }
  if (keys === null || typeof keys !== "object" || Array.isArray(keys)) {
    throw new UsageError('LANGGRAPH_S3_ENCRYPTION_KEYS must be a JSON object: { "keyId": "base64 key", ... }');
  }
  const ids = Object.keys(keys);
  const currentKeyId = process.env.LANGGRAPH_S3_ENCRYPTION_KEY_ID ?? (ids.length === 1 ? ids[0] : undefined);
  if (!currentKeyId) throw new UsageError("set LANGGRAPH_S3_ENCRYPTION_KEY_ID to the key new objects are written with");
  return { keys: keys as Record<string, string>, currentKeyId };
}

/**
 * The checkpointer of the flags and the environment: the variables of `S3Checkpointer.fromEnv()`
 * (`LANGGRAPH_S3_BUCKET`, `LANGGRAPH_S3_PREFIX`, the AWS SDK's region, credentials chain and
 * `AWS_ENDPOINT_URL_S3`), each overridden by its flag.
 */
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

/** Runs `fn` with the flags' checkpointer and closes it after. */
export async function withCheckpointer<T>(flags: GlobalFlags, fn: (saver: S3Checkpointer) => Promise<T>): Promise<T> {
  const saver = checkpointerOf(flags);
  try {
    return await fn(saver);
  } finally {
    await saver.close();
  }
}

/** JSON as scripts want it: dates as ISO strings, BigInts as strings. */
export function toJson(data: unknown): string {
  return JSON.stringify(data, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v), 2);
}

/** Prints `data` as JSON with `--json`, else as `text(data)`. */
export function output<T>(flags: GlobalFlags, data: T, text: (data: T) => string): void {
  process.stdout.write(`${flags.json ? toJson(data) : text(data)}\n`);
}

/** Rows as aligned columns under a header line. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/**
 * Destructive commands: on a terminal, asks; elsewhere (scripts, CI) needs `--yes`, so nothing is
 * destroyed by a command run without a human to ask.
 */
export async function confirm(flags: GlobalFlags, question: string): Promise<void> {
  if (flags.yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError(`${question.replace(/\?$/, "")}: not on a terminal, so pass --yes to confirm`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError("not confirmed; nothing was changed");
  } finally {
    rl.close();
  }
}

/** A progress display: a bar with a total, a counter without one. */
export interface Progress {
  update(done: number, total?: number, detail?: string): void;
  stop(): void;
}

/** A progress bar on a terminal; nothing with `--json` or when stdout is a pipe or a file. */
export function progress(flags: GlobalFlags, what: string): Progress {
  if (flags.json || !process.stdout.isTTY) return { update() {}, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  return {
    update(done, total, detail = "") {
      if (!bar) {
        const format = total === undefined ? `${what} {value} {detail}` : `${what} [{bar}] {value}/{total} {detail}`;
        bar = new cliProgress.SingleBar(
          { format, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total ?? 0, 0, { detail });
      }
      if (total !== undefined) bar.setTotal(total);
      bar.update(done, { detail });
    },
    stop() {
      bar?.stop();
    },
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration flag (`90s`, `15m`, `12h`, `30d`, `2w`, `500ms`) in milliseconds; a usage error otherwise. */
export function parseDuration(flag: string): (value: string) => number {
  return (value) => {
    const match = DURATION.exec(value.trim());
    if (!match) throw new CommanderArgumentError(`${flag} must be a duration such as 90s, 15m, 12h, 30d or 2w`);
    return Number(match[1]) * UNIT_MS[match[2]!]!;
  };
}

/** A whole-number flag of at least `min`; a usage error otherwise. */
export function parseWhole(flag: string, min = 0): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new CommanderArgumentError(`${flag} must be a whole number of at least ${min}`);
    }
    return n;
  };
}
