#!/usr/bin/env node
/**
 * A second, independent S3 implementation for the tests: s3rver (from npm), run in this process
 * on 127.0.0.1 with its data in a fresh temporary directory. It has no versioning and ignores
 * `If-None-Match`, so the checkpointer falls back to its HEAD-then-write immutability there, and
 * the tests that need versions are reported as skipped with the reason in their names.
 *
 *   node --openssl-legacy-provider scripts/local-s3rver.mjs -- COMMAND [ARGS…]
 *       start s3rver, run COMMAND with the S3_* variables set, stop it, exit with COMMAND's code
 *
 * `--openssl-legacy-provider`: s3rver 3.7 encrypts the continuation tokens of ListObjectsV2 with
 * DES, which OpenSSL 3 (Node 17 and later) keeps in its legacy provider; without it every listing
 * longer than one page fails with HTTP 500.
 *
 * Settings (environment): LOCAL_S3RVER_PORT (default 0: any free port), LOCAL_S3RVER_VERBOSE=1
 * (s3rver logs every request and every error it answers with a 500).
 */
import { spawn } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import S3rver from "s3rver";

const say = (message) => process.stderr.write(`local-s3rver: ${message}\n`);

const args = process.argv.slice(2);
const command = args[0] === "--" ? args.slice(1) : args;
if (command.length === 0) {
  say("usage: node scripts/local-s3rver.mjs -- COMMAND [ARGS…]");
  process.exit(2);
}

try {
  createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
} catch {
  say("s3rver needs DES for its listing tokens: run node --openssl-legacy-provider scripts/local-s3rver.mjs");
  process.exit(2);
}

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const directory = await mkdtemp(path.join(tmpdir(), "langgraph-checkpoint-s3-s3rver-"));
// s3rver's only account: these keys are its built-in ones
const accessKeyId = "S3RVER";
const secretAccessKey = "S3RVER";
const server = new S3rver({
  address: "127.0.0.1",
  port: Number(process.env.LOCAL_S3RVER_PORT ?? 0),
  directory,
  silent: process.env.LOCAL_S3RVER_VERBOSE !== "1",
  // path-style requests only, as the clients of the tests send them
  vhostBuckets: false,
});
const { port } = await server.run();
const endpoint = `http://127.0.0.1:${port}`;
say(`up at ${endpoint} (data in ${directory})`);

const child = spawn(command[0], command.slice(1), {
  stdio: "inherit",
  env: {
    ...process.env,
    // commands such as `vitest` resolve from the project's own binaries, as under `npm run`
    PATH: `${path.join(root, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
    S3_ENDPOINT: endpoint,
    S3_ACCESS_KEY_ID: accessKeyId,
    S3_SECRET_ACCESS_KEY: secretAccessKey,
    S3_REGION: "us-east-1",
  },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));

const code = await new Promise((resolve) => {
  child.on("error", (e) => {
    say(`could not run ${command[0]}: ${e.message}`);
    resolve(127);
  });
  child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
});
await server.close();
await rm(directory, { recursive: true, force: true });
say("stopped");
process.exit(code);
