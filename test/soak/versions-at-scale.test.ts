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

/** Writes in flight at once. */
const BATCH = Number(process.env.SCALE_BATCH ?? 250);

async function saverOn(b = bucket, options: Record<string, unknown> = {}) {
  const saver = new S3Checkpointer({
    bucket: b,
    client,
    prefix: `v/${randomUUID()}/`,
    inlineThresholdBytes: 256,
    ...options,
  });
  await saver.setup();
  return saver;
}

describeWithVersioning("at scale: pagination of versions", () => {
  it("5,000 versions of one key and 5,000 checkpoints: list, restore and purge", async () => {
    // each phase says how long it took, so a slow run shows where the time went
    const phase = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await work();
      console.log(`at scale: ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return result;
    };
    const saver = await saverOn();
    const thread = "big";
    const meta = { source: "loop" as const, step: 0, parents: {} };
    const first = await saver.put(
      { configurable: { thread_id: thread } },
      { ...emptyCheckpoint(), id: uuid6(-1) },
      meta,
      {},
    );
    const N = 5000;
    const ids: string[] = [first.configurable!.checkpoint_id as string];
    await phase(`${N} checkpoints`, async () => {
      for (let i = 1; i < N; i += BATCH) {
        const batch = Array.from({ length: Math.min(BATCH, N - i) }, () => ({ ...emptyCheckpoint(), id: uuid6(-1) }));
        batch.forEach((c) => ids.push(c.id));
        await Promise.all(batch.map((c) => saver.put({ configurable: { thread_id: thread } }, c, meta, {})));
      }
    });
    // a special write replaced 5,000 times: 5,000 versions of one key
    await phase(`${N} versions of one key`, async () => {
      for (let i = 0; i < N; i += BATCH) {
        await Promise.all(
          Array.from({ length: BATCH }, (_v, j) =>
            saver.putWrites(first, [["__error__", `attempt ${i + j}`]], "flaky-task"),
          ),
        );
      }
    });
    const listed = await phase("listVersions", async () => {
      const out = [];
      for await (const v of saver.listVersions(thread)) out.push(v.checkpointId);
      return out;
    });
    expect(listed).toEqual([...ids].sort().reverse());

    await phase("deleteThread", () => saver.deleteThread(thread));
    expect(await saver.getTuple({ configurable: { thread_id: thread } })).toBeUndefined();
    await phase("restoreThread", () => saver.restoreThread(thread));
    const count = await phase("list", async () => {
      let n = 0;
      for await (const _t of saver.list({ configurable: { thread_id: thread, checkpoint_ns: "" } })) n += 1;
      return n;
    });
    expect(count).toBe(N);

    const report = await phase("purgeThread", () => saver.purgeThread(thread));
    expect(report.versionsFound).toBeGreaterThanOrEqual(2 * N);
    expect(await allVersions(client, bucket, saver.layout.thread(thread))).toEqual([]);
    // ~300 s on a 2-core machine under load (load average 7–10), alone: three times that
  }, 900_000);
});
