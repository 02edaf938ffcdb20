/**
 * The S3 client of the examples: a local server from `S3_ENDPOINT`, `S3_ACCESS_KEY_ID` and
 * `S3_SECRET_ACCESS_KEY` (what `scripts/local-s3.sh` prints), otherwise the AWS SDK's usual
 * environment (region, credentials chain) for AWS itself.
 */
import { createClient } from "langgraph-checkpoint-s3";

export function exampleClient() {
  return createClient(
    process.env.S3_ENDPOINT
      ? {
          endpoint: process.env.S3_ENDPOINT,
          credentials: {
            accessKeyId: process.env.S3_ACCESS_KEY_ID ?? "",
            secretAccessKey: process.env.S3_SECRET_ACCESS_KEY ?? "",
          },
        }
      : {},
  );
}
