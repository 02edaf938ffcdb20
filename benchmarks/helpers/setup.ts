/** What every benchmark needs: the S3 server from the environment, and state-like text. */
import { randomBytes } from "node:crypto";
import { createClient } from "../../src/index.js";

/** The S3 server of `S3_ENDPOINT` (set by `scripts/local-s3.sh run`); exits when it is not set. */
export function serverFromEnv(npmScript: string) {
  const endpoint = process.env.S3_ENDPOINT;
  if (!endpoint) {
    console.error(`set S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY (or run: npm run ${npmScript})`);
    process.exit(2);
  }
  const region = process.env.S3_REGION ?? "us-east-1";
  const credentials = {
    accessKeyId: process.env.S3_ACCESS_KEY_ID ?? "",
    secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? "",
  };
  return { endpoint, region, credentials, client: createClient({ endpoint, region, credentials }) };
}

/** `mb` MiB of text: lines of words as agent state has (compressible), or random base64. */
export function stateText(mb: number, compressible = true): string {
  if (!compressible) return randomBytes(Math.ceil((mb * 1024 * 1024 * 3) / 4)).toString("base64");
  const words = [
    "the",
    "agent",
    "tool",
    "result",
    "user",
    "asked",
    "for",
    "a",
    "summary",
    "of",
    randomBytes(6).toString("hex"),
  ];
  const out: string[] = [];
  let size = 0;
  while (size < mb * 1024 * 1024) {
    const line = Array.from({ length: 30 }, () => words[Math.floor(Math.random() * words.length)]).join(" ");
    out.push(line);
    size += line.length + 1;
  }
  return out.join("\n");
}
