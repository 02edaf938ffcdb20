/**
 * LangGraph's own conformance suite, in full, against the real S3 server: once on a versioned
 * bucket (immutability by version check on Ceph RGW) and once on an unversioned bucket
 * (conditional create). Each checkpointer the suite asks for gets a bucket of its own.
 */
import { deltaChannelHistoryTests, validate, type CheckpointerTestInitializer } from "@langchain/langgraph-checkpoint-validation";
import { S3Checkpointer } from "../../src/index.js";
import { createBucket, dropBucket, testClient, uniqueBucket } from "../helpers/s3.js";

function initializer(versioned: boolean): CheckpointerTestInitializer<S3Checkpointer> {
  const client = testClient();
  const buckets = new WeakMap<S3Checkpointer, string>();
  return {
    checkpointerName: `S3Checkpointer (${versioned ? "versioned" : "unversioned"} bucket)`,
    async createCheckpointer() {
      const bucket = uniqueBucket(versioned ? "conf-v" : "conf-u");
      await createBucket(client, bucket, versioned);
      const saver = new S3Checkpointer({ bucket, client, prefix: "conformance/" });
      await saver.setup();
      buckets.set(saver, bucket);
      return saver;
    },
    async destroyCheckpointer(saver) {
      await saver.close();
      await dropBucket(client, buckets.get(saver)!);
    },
  };
}

for (const versioned of [true, false]) {
  const init = initializer(versioned);
  validate(init);
  describe(`${init.checkpointerName} delta channel history`, () => {
    deltaChannelHistoryTests(init);
  });
}
