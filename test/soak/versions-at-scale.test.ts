/**
 * Versions at scale (`npm run test:soak`), against the real S3 server: 5,000 checkpoints and
 * 5,000 versions of one key in one thread, listed, soft-deleted, restored and purged, so every
 * listing and every batch delete pages (S3 returns at most 1,000 entries per page).
 */
import { randomUUID } from "node:crypto";
import { emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import { expect, it } from "vitest";
import { S3Checkpointer } from "../../src/index.js";
import { allVersions, bucketsForFile, describeWithVersioning, testClient } from "../helpers/s3.js";

const client = testClient();
const { versioned: bucket } = bucketsForFile("scale", client);

async function saverOn(b = bucket, options: Record<string, unknown> = {}) {
  const saver = new S3Checkpointer({ bucket: b, client, prefix: `v/${randomUUID()}/`, inlineThresholdBytes: 256, ...options });
  await saver.setup();
  return saver;
}

describeWithVersioning("at scale: pagination of versions", () => {
  it("5,000 versions of one key and 5,000 checkpoints: list, restore and purge", async () => {
    const saver = await saverOn();
    const thread = "big";
    const meta = { source: "loop" as const, step: 0, parents: {} };
    const first = await saver.put({ configurable: { thread_id: thread } }, { ...emptyCheckpoint(), id: uuid6(-1) }, meta, {});
    const N = 5000;
    const ids: string[] = [first.configurable!.checkpoint_id as string];
    for (let i = 1; i < N; i += 250) {
      const batch = Array.from({ length: Math.min(250, N - i) }, () => ({ ...emptyCheckpoint(), id: uuid6(-1) }));
      batch.forEach((c) => ids.push(c.id));
      await Promise.all(batch.map((c) => saver.put({ configurable: { thread_id: thread } }, c, meta, {})));
    }
    // a special write replaced 5,000 times: 5,000 versions of one key
    for (let i = 0; i < N; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_v, j) => saver.putWrites(first, [["__error__", `attempt ${i + j}`]], "flaky-task")));
    }
    const listed = [];
    for await (const v of saver.listVersions(thread)) listed.push(v.checkpointId);
    expect(listed).toEqual([...ids].sort().reverse());

    await saver.deleteThread(thread);
    expect(await saver.getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
    await saver.restoreThread(thread);
    let count = 0;
    for await (const _t of saver.list({ configurable: { thread_id: thread, checkpoint_ns: "" } })) count += 1;
    expect(count).toBe(N);

    const report = await saver.purgeThread(thread);
    expect(report.versionsFound).toBeGreaterThanOrEqual(2 * N);
    expect(await allVersions(client, bucket, saver.layout.thread(thread))).toEqual([]);
  }, 300_000);
});
