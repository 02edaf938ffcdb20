/**
 * LangGraph's own conformance suite, in full, against the real S3 server: once on a versioned
 * bucket (immutability by version check on Ceph RGW) and once on an unversioned bucket
 * (conditional create), and once more there with client-side encryption on. Every checkpointer
 * the suite asks for gets a prefix of its own, so no instance sees another's state.
 */
import { randomUUID } from "node:crypto";
import {
  deltaChannelHistoryTests,
  validate,
  type CheckpointSaverTestInitializer,
} from "@langchain/langgraph-checkpoint-validation";
import { S3Checkpointer, generateKey } from "../../src/index.js";
import { createBucket, describeWithVersioning, dropBucket, testClient, uniqueBucket } from "../helpers/s3.js";

function initializer(versioned: boolean, encrypted = false): CheckpointSaverTestInitializer<S3Checkpointer> {
  const client = testClient();
  const bucket = uniqueBucket(versioned ? "conf-v" : encrypted ? "conf-e" : "conf-u");
  const encryption = encrypted ? { keys: { k1: generateKey() }, currentKeyId: "k1", required: true } : undefined;
  return {
    checkpointerName: `S3Checkpointer (${versioned ? "versioned" : "unversioned"} bucket${encrypted ? ", encrypted" : ""})`,
    beforeAllTimeout: 60_000,
    async beforeAll() {
      await createBucket(client, bucket, versioned);
    },
    async afterAll() {
      await dropBucket(client, bucket);
    },
    async createCheckpointer() {
      const saver = new S3Checkpointer({ bucket, client, prefix: `conformance/${randomUUID()}/`, encryption });
      await saver.setup();
      return saver;
    },
    async destroyCheckpointer(saver) {
      // undefined when createCheckpointer failed: the suite's cleanup must not add a TypeError to that
      await saver?.close();
    },
  };
}

for (const [versioned, encrypted] of [
  [true, false],
  [false, false],
  [false, true],
] as const) {
  const init = initializer(versioned, encrypted);
  const suite = () => {
    validate(init);
    describe(`${init.checkpointerName} delta channel history`, () => {
      deltaChannelHistoryTests(init);
    });
  };
  if (versioned) describeWithVersioning("conformance on a versioned bucket", suite);
  else describe(`conformance on an unversioned bucket${encrypted ? ", encrypted" : ""}`, suite);
}
