/**
 * LangGraph's own conformance suite, in full, against the real S3 server: once on a versioned
 * bucket (immutability by version check on Ceph RGW) and once on an unversioned bucket
 * (conditional create). Every checkpointer the suite asks for gets a prefix of its own, so no
 * instance sees another's state.
 */
import { randomUUID } from "node:crypto";
import { deltaChannelHistoryTests, validate, type CheckpointSaverTestInitializer } from "@langchain/langgraph-checkpoint-validation";
import { S3Checkpointer } from "../../src/index.js";
import { createBucket, describeWithVersioning, dropBucket, testClient, uniqueBucket } from "../helpers/s3.js";

function initializer(versioned: boolean): CheckpointSaverTestInitializer<S3Checkpointer> {
  const client = testClient();
  const bucket = uniqueBucket(versioned ? "conf-v" : "conf-u");
  return {
    checkpointerName: `S3Checkpointer (${versioned ? "versioned" : "unversioned"} bucket)`,
    beforeAllTimeout: 60_000,
    async beforeAll() {
      await createBucket(client, bucket, versioned);
    },
    async afterAll() {
      await dropBucket(client, bucket);
    },
    async createCheckpointer() {
      const saver = new S3Checkpointer({ bucket, client, prefix: `conformance/${randomUUID()}/` });
      await saver.setup();
      return saver;
    },
    async destroyCheckpointer(saver) {
      // undefined when createCheckpointer failed: the suite's cleanup must not add a TypeError to that
      await saver?.close();
    },
  };
}

for (const versioned of [true, false]) {
  const init = initializer(versioned);
  const suite = () => {
    validate(init);
    describe(`${init.checkpointerName} delta channel history`, () => {
      deltaChannelHistoryTests(init);
    });
  };
  if (versioned) describeWithVersioning("conformance on a versioned bucket", suite);
  else describe("conformance on an unversioned bucket", suite);
}
