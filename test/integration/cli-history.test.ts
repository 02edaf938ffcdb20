/**
 * The `langgraph-s3` command line on history, run as a process against the real server: versions,
 * restore, undelete and purge on a versioned bucket, and migrations from a SQLite file and from
 * Postgres killed halfway, then resumed: nothing lost, nothing doubled.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, type BaseCheckpointSaver } from "@langchain/langgraph";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Checkpointer } from "../../src/index.js";
import { buildCli, cli, comparable, envFor, history, json, loopGraph } from "../helpers/cli.js";
import { postgresBin, startPostgres, type LocalPostgres } from "../helpers/postgres.js";
import { approvalGraph } from "../helpers/graphs.js";
import { bucketsForFile, describeWithVersioning, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("clihist", client);
buildCli();

// better-sqlite3 is native, built for the Node that installed it; CI runs the tests on a second Node too
// (the import may work and opening a database fail, when the native module is another Node's)
const sqliteLoads = await import("@langchain/langgraph-checkpoint-sqlite")
  .then(({ SqliteSaver }) => {
    (SqliteSaver.fromConnString(":memory:") as unknown as { db: { close(): void } }).db.close();
    return true;
  })
  .catch(() => false);
describe("langgraph-s3 on history", { timeout: 300_000 }, () => {
  describeWithVersioning("on a versioned bucket", () => {
    it("setup, versions, show --version, restore, undelete, purge", async () => {
      const prefix = `cli/${randomUUID()}/`;
      const env = envFor(buckets.versioned, prefix);
      expect(json(await cli(["setup", "--versioning", "--json"], env))).toMatchObject({ versioning: "Enabled" });
      const saver = new S3Checkpointer({ bucket: buckets.versioned, client, prefix });
      await loopGraph(saver, 3).invoke({ i: 0 }, { configurable: { thread_id: "h" } });
      const versions = json(await cli(["versions", "h", "--json"], env)) as {
        checkpointId: string;
        versionId: string;
      }[];
      expect(versions.length).toBe((await history(saver, "h")).length);
      const oldest = versions.at(-1)!;
      const shown = json(await cli(["show", "h", "--version", oldest.versionId], env)) as { checkpointId: string };
      expect(shown.checkpointId).toBe(oldest.checkpointId);
      expect(json(await cli(["delete", "h", "--yes", "--json"], env))).toEqual({ deleted: "h" });
      expect(json(await cli(["threads", "--json"], env))).toEqual([]);
      expect(json(await cli(["undelete", "h", "--json"], env))).toMatchObject({ thread: "h" });
      const restored = json(await cli(["restore", "h", "--version", versions[1]!.versionId, "--json"], env)) as {
        checkpoint_id: string;
      };
      expect((await saver.getTuple({ configurable: { thread_id: "h" } }))?.config.configurable?.checkpoint_id).toBe(
        restored.checkpoint_id,
      );
      expect((await cli(["purge", "h"], env)).code).toBe(2);
      expect(json(await cli(["purge", "h", "--yes", "--json"], env))).toMatchObject({ threadId: "h", failed: 0 });
      expect(json(await cli(["versions", "h", "--deleted", "--json"], env))).toEqual([]);
    });
  });

  describe.runIf(sqliteLoads)(
    `migrate from a SQLite file${sqliteLoads ? "" : " [needs better-sqlite3 built for this Node]"}`,
    () => {
      let dir = "";
      afterAll(() => {
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it("killed halfway, then run again: every checkpoint and pending write once, and the graph continues", async () => {
        const { SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite");
        dir = mkdtempSync(join(tmpdir(), "lgs3-cli-"));
        const file = join(dir, "state.db");
        const sqlite = SqliteSaver.fromConnString(file);
        try {
          await killedAndResumed(sqlite, `sqlite:${file}`);
        } finally {
          (sqlite as unknown as { db: { close(): void } }).db.close();
        }
      });
    },
  );

  describe.runIf(postgresBin() !== undefined)(
    `migrate from Postgres${postgresBin() ? "" : " [needs Debian's postgresql]"}`,
    () => {
      let server: LocalPostgres | undefined;
      beforeAll(() => {
        server = startPostgres();
      });
      afterAll(() => server?.stop());

      it("killed halfway, then run again: every checkpoint and pending write once, and the graph continues", async () => {
        const { PostgresSaver } = await import("@langchain/langgraph-checkpoint-postgres");
        const postgres = PostgresSaver.fromConnString(server!.url);
        await postgres.setup();
        try {
          await killedAndResumed(postgres, server!.url);
        } finally {
          await postgres.end();
        }
      });
    },
  );
});

/**
 * Fills `source` with an interrupted run and a 40-step loop, migrates it to a fresh prefix with
 * the CLI, kills the process once a third of the checkpoints are in, runs it again, and compares.
 */
async function killedAndResumed(source: BaseCheckpointSaver, location: string): Promise<void> {
  await approvalGraph(source).invoke({ log: [] }, { configurable: { thread_id: "ask" } });
  await loopGraph(source, 40).invoke({ i: 0 }, { configurable: { thread_id: "long" }, recursionLimit: 100 });
  const prefix = `cli/${randomUUID()}/`;
  const env = envFor(buckets.unversioned, prefix);
  const target = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix });
  const total = (await history(source, "ask")).length + (await history(source, "long")).length;
  const args = ["migrate", "--from", location, "--to", `s3://${buckets.unversioned}/${prefix}`, "--json"];

  const records = async () => {
    let n = 0;
    for await (const t of target.listThreads({ details: true })) n += t.checkpoints ?? 0;
    return n;
  };
  const crashed = await cli(args, env, async (kill) => {
    while ((await records()) < total / 3) await new Promise((r) => setTimeout(r, 50));
    kill();
  });
  expect(crashed.signal).toBe("SIGKILL");
  const partial = await records();
  expect(partial).toBeGreaterThan(0);
  expect(partial).toBeLessThan(total);

  const resumed = json(await cli(args, env)) as { checkpoints: number; written: number; alreadyThere: number };
  expect(resumed.checkpoints).toBe(total);
  expect(resumed.alreadyThere).toBeGreaterThanOrEqual(partial - 1);
  expect(resumed.written + resumed.alreadyThere).toBe(total);
  for (const thread of ["ask", "long"]) {
    expect((await history(target, thread)).map(comparable)).toEqual((await history(source, thread)).map(comparable));
  }
  expect(json(await cli(args, env))).toMatchObject({ written: 0, alreadyThere: total, writes: 0 });
  const done = await approvalGraph(target).invoke(new Command({ resume: "yes" }), {
    configurable: { thread_id: "ask" },
  });
  expect(done.log).toEqual(["planned", "approved: yes", "acted after 2"]);
}
