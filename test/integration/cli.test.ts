/**
 * The `langgraph-s3` command line, run as a process against the real server: exit codes, `--json`
 * parsed, `--yes` required off a terminal, verify and quarantine of a planted corrupt object, and
 * migrations from a SQLite file and from Postgres killed halfway, then resumed: nothing lost,
 * nothing doubled.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { Annotation, Command, END, START, StateGraph, type BaseCheckpointSaver } from "@langchain/langgraph";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Checkpointer } from "../../src/index.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";
import { postgresBin, startPostgres, type LocalPostgres } from "../helpers/postgres.js";
import { approvalGraph } from "../helpers/graphs.js";
import { bucketsForFile, describeWithVersioning, s3Config, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("cli", client);
// the command as it ships: src/cli/index.ts bundled as the package build does, into a folder
// inside the project so its dependencies resolve from node_modules
const OUT = join(import.meta.dirname, `../../node_modules/.cache/langgraph-s3-cli-${process.pid}`);
const CLI = join(OUT, "cli.js");
beforeAll(async () => {
  await build({
    entry: { cli: join(import.meta.dirname, "../../src/cli/index.ts") },
    format: ["esm"],
    outDir: OUT,
    target: "node20",
    config: false,
    silent: true,
    noExternal: ["p-limit", "yocto-queue"],
  });
}, 120_000);
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment `S3Checkpointer.fromEnv()` reads, as an operator would set it. */
function envFor(bucket: string, prefix: string): NodeJS.ProcessEnv {
  const s3 = s3Config();
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_NO_WARNINGS: "1",
    LANGGRAPH_S3_BUCKET: bucket,
    LANGGRAPH_S3_PREFIX: prefix,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    AWS_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
}

/** Runs the CLI with stdin and stdout as pipes (never a terminal); `whileRunning` may kill it. */
function cli(args: string[], env: NodeJS.ProcessEnv, whileRunning?: (kill: () => void) => Promise<void>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end();
    whileRunning?.(() => child.kill("SIGKILL")).catch(reject);
  });
}

const json = (run: Run) => {
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as unknown;
};

function loopGraph(saver: BaseCheckpointSaver, steps: number) {
  const State = Annotation.Root({
    i: Annotation<number>({ reducer: (_a, b) => b, default: () => 0 }),
    note: Annotation<string>(),
  });
  return new StateGraph(State)
    .addNode("tick", (s) => ({ i: s.i + 1, note: `step ${s.i + 1} `.repeat(20) }))
    .addEdge(START, "tick")
    .addConditionalEdges("tick", (s) => (s.i >= steps ? END : "tick"))
    .compile({ checkpointer: saver });
}

async function history(saver: BaseCheckpointSaver, threadId: string): Promise<CheckpointTuple[]> {
  const out: CheckpointTuple[] = [];
  for await (const t of saver.list({ configurable: { thread_id: threadId } })) out.push(t);
  return out;
}
/**
 * A checkpoint as a saver must give it back. SqliteSaver also returns values of channels that
 * have no version (an empty `__pregel_tasks: []`, a reducer's `[]` at the input step): a value
 * without a version is no state (the channel starts empty either way), and this saver, like
 * MemorySaver, keeps a value only with its version.
 */
const comparable = (t: CheckpointTuple) => ({
  id: t.config.configurable?.checkpoint_id,
  ns: t.config.configurable?.checkpoint_ns,
  parent: t.parentConfig?.configurable?.checkpoint_id,
  checkpoint: {
    ...t.checkpoint,
    channel_values: Object.fromEntries(
      Object.entries(t.checkpoint.channel_values).filter(([c]) => Object.hasOwn(t.checkpoint.channel_versions, c)),
    ),
  },
  metadata: t.metadata,
  pendingWrites: t.pendingWrites,
});

// better-sqlite3 is native, built for the Node that installed it; CI runs the tests on a second Node too
// (the import may work and opening a database fail, when the native module is another Node's)
const sqliteLoads = await import("@langchain/langgraph-checkpoint-sqlite")
  .then(({ SqliteSaver }) => {
    (SqliteSaver.fromConnString(":memory:") as unknown as { db: { close(): void } }).db.close();
    return true;
  })
  .catch(() => false);
// each test runs a dozen processes: minutes on a busy machine
describe("langgraph-s3", { timeout: 300_000 }, () => {
  it("--help lists every command; usage mistakes exit 2, failures 1", async () => {
    const env = envFor(buckets.unversioned, `cli/${randomUUID()}/`);
    const help = await cli(["--help"], env);
    expect(help.code).toBe(0);
    const commands = [
      "setup",
      "threads",
      "history",
      "show",
      "versions",
      "restore",
      "delete",
      "undelete",
      "purge",
      "copy",
      "prune",
      "sweep",
    ];
    for (const command of [...commands, "migrate", "verify", "stats", "share", "shares", "revoke-share", "import"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, "m"));
    }
    expect((await cli(["no-such-command"], env)).code).toBe(2);
    expect((await cli(["prune", "t"], env)).code).toBe(2);
    expect((await cli(["sweep", "--idle-for", "soon"], env)).code).toBe(2);
    const noBucket = await cli(["threads"], { ...env, LANGGRAPH_S3_BUCKET: "" });
    expect(noBucket).toMatchObject({ code: 2 });
    expect(noBucket.stderr).toMatch(/no bucket/);
    const missing = await cli(["threads"], { ...env, LANGGRAPH_S3_BUCKET: `missing-${randomUUID()}` });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^langgraph-checkpoint-s3: /);
    expect((await cli(["show", "nobody"], env)).code).toBe(1);
    // a saver that cannot be reached is a failure (a socket directory that does not exist: no network)
    const noServer = await cli(
      [
        "migrate",
        "--from",
        "postgresql://postgres@/x?host=/nonexistent-lgs3",
        "--to",
        `s3://${buckets.unversioned}/x/`,
      ],
      env,
    );
    expect(noServer.code).toBe(1);
    expect(noServer.stderr).toMatch(/^langgraph-s3: .*nonexistent-lgs3/m);
  });

  it("threads, history, show and stats print what the library reads; prune and sweep need --yes off a terminal", async () => {
    const prefix = `cli/${randomUUID()}/`;
    const env = envFor(buckets.unversioned, prefix);
    const saver = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix });
    await approvalGraph(saver).invoke({ log: [] }, { configurable: { thread_id: "ask" } });
    await loopGraph(saver, 5).invoke({ i: 0 }, { configurable: { thread_id: "loop" } });

    expect(json(await cli(["threads", "--json"], env))).toEqual([{ threadId: "ask" }, { threadId: "loop" }]);
    const detailed = json(await cli(["threads", "--details", "--json"], env)) as {
      threadId: string;
      checkpoints: number;
    }[];
    expect(detailed.map((t) => [t.threadId, t.checkpoints])).toEqual([
      ["ask", (await history(saver, "ask")).length],
      ["loop", (await history(saver, "loop")).length],
    ]);
    const text = await cli(["threads", "--details"], env);
    expect(text.stdout).toMatch(/^THREAD +CHECKPOINTS/);

    const rows = json(await cli(["history", "loop", "--json"], env)) as { checkpointId: string; step: number }[];
    expect(rows.map((r) => r.checkpointId)).toEqual(
      (await history(saver, "loop")).map((t) => t.config.configurable?.checkpoint_id),
    );
    expect((json(await cli(["history", "loop", "--limit", "2", "--json"], env)) as unknown[]).length).toBe(2);
    const shown = json(await cli(["show", "ask"], env)) as { values: { log: string[] }; pendingWrites: unknown[] };
    expect(shown.values.log).toEqual(["planned"]);
    expect(shown.pendingWrites.length).toBeGreaterThan(0);
    const older = json(await cli(["show", "loop", "--checkpoint", rows[2]!.checkpointId], env)) as {
      checkpointId: string;
      values: { i: number };
    };
    expect(older).toMatchObject({ checkpointId: rows[2]!.checkpointId, values: { i: 3 } });
    expect(json(await cli(["stats", "--json"], env))).toMatchObject({
      threads: 2,
      checkpoints: detailed[0]!.checkpoints + detailed[1]!.checkpoints,
    });

    const refused = await cli(["prune", "loop", "--keep-last", "2"], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    expect((await history(saver, "loop")).length).toBe(rows.length);
    const dry = json(await cli(["prune", "loop", "--keep-last", "2", "--dry-run", "--json"], env));
    expect(dry).toMatchObject({ threadId: "loop", dryRun: true, removed: rows.length - 2 });
    const pruned = json(await cli(["prune", "loop", "--keep-last", "2", "--yes", "--json"], env));
    expect(pruned).toMatchObject({ removed: rows.length - 2, kept: 2 });
    expect(json(await cli(["prune", "--keep-last", "2", "--yes", "--json"], env))).toMatchObject([
      { threadId: "ask" },
      { threadId: "loop", removed: 0 },
    ]);
    // nothing idle for a day; then everything idle for a millisecond, on a dry run
    expect(json(await cli(["sweep", "--idle-for", "1d", "--yes", "--json"], env))).toMatchObject({
      threads: 2,
      idle: [],
    });
    await new Promise((r) => setTimeout(r, 1100));
    expect(json(await cli(["sweep", "--idle-for", "1ms", "--dry-run", "--json"], env))).toMatchObject({
      idle: ["ask", "loop"],
      dryRun: true,
    });
    expect((await cli(["sweep", "--idle-for", "1ms"], env)).code).toBe(2);
    expect((await cli(["delete", "ask"], env)).code).toBe(2);
    expect(await saver.getTuple({ configurable: { thread_id: "ask" } })).toBeDefined();
    expect(json(await cli(["delete", "ask", "--yes", "--json"], env))).toEqual({ deleted: "ask" });
    expect(await saver.getTuple({ configurable: { thread_id: "ask" } })).toBeUndefined();
    expect(json(await cli(["copy", "loop", "loop-copy", "--json"], env))).toMatchObject({
      from: "loop",
      to: "loop-copy",
    });
    expect((await history(saver, "loop-copy")).length).toBe(2);
  });

  it("share prints a URL that import reads into another prefix, with no credentials to read it; shares and revoke-share", async () => {
    const from = `cli/${randomUUID()}/`;
    const to = `cli/${randomUUID()}/`;
    const env = envFor(buckets.unversioned, from);
    const saver = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix: from });
    await approvalGraph(saver).invoke({ log: [] }, { configurable: { thread_id: "ask" } });
    expect((await cli(["share", "ask", "--expires-in", "500ms"], env)).code).toBe(2);
    expect((await cli(["share", "ask", "--expires-in", "8d"], env)).code).toBe(2);
    const share = json(await cli(["share", "ask", "--expires-in", "10m", "--json"], env)) as {
      url: string;
      shareId: string;
    };
    expect(share.url).toMatch(/#k=/);
    const listed = json(await cli(["shares", "--json"], env)) as { shareId: string; threadId: string }[];
    expect(listed).toMatchObject([{ shareId: share.shareId, threadId: "ask" }]);
    // the import writes with the target's credentials; reading the URL needs none
    const imported = json(
      await cli(
        ["import", share.url, "--thread", "copy", "--into", `s3://${buckets.unversioned}/${to}`, "--json"],
        env,
      ),
    );
    expect(imported).toMatchObject({ thread_id: "copy" });
    const target = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix: to });
    const original = await saver.getTuple({ configurable: { thread_id: "ask" } });
    const copy = await target.getTuple({ configurable: { thread_id: "copy" } });
    expect(copy?.checkpoint.channel_values).toEqual(original?.checkpoint.channel_values);
    expect((await cli(["revoke-share", share.shareId], env)).code).toBe(2); // --yes needed off a terminal
    expect(json(await cli(["revoke-share", share.shareId, "--yes", "--json"], env))).toEqual({
      shareId: share.shareId,
      revoked: true,
    });
    expect(
      (await cli(["import", share.url, "--thread", "again", "--into", `s3://${buckets.unversioned}/${to}`], env)).code,
    ).toBe(1);
  });

  it("verify finds a planted corrupt object and a missing shared value; --quarantine moves them aside and the rest reads again", async () => {
    const prefix = `cli/${randomUUID()}/`;
    const env = envFor(buckets.unversioned, prefix);
    const saver = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix });
    await loopGraph(saver, 6).invoke({ i: 0 }, { configurable: { thread_id: "v" } });
    await loopGraph(saver, 2).invoke({ i: 0 }, { configurable: { thread_id: "w" } });
    const before = await history(saver, "v");
    const victim = saver.layout.record("v", "", before[3]!.config.configurable!.checkpoint_id as string);
    await client.send(new PutObjectCommand({ Bucket: buckets.unversioned, Key: victim, Body: "not a checkpoint" }));

    const found = await cli(["verify", "--json"], env);
    expect(found.code).toBe(1);
    const report = JSON.parse(found.stdout) as {
      objects: number;
      corrupt: { key: string; code: string }[];
      quarantined: string[];
    };
    expect(report.corrupt).toEqual([expect.objectContaining({ key: victim, code: "CHECKPOINT_CORRUPTED" })]);
    expect(report.objects).toBeGreaterThan(before.length);
    // a listing of the whole history fails on it
    expect((await cli(["history", "v", "--json"], env)).code).toBe(1);
    expect((await cli(["verify", "w", "--json"], env)).code).toBe(0);

    expect((await cli(["verify", "v", "--quarantine"], env)).code).toBe(2);
    const moved = json(await cli(["verify", "v", "--quarantine", "--yes", "--json"], env));
    expect(moved).toMatchObject({ quarantined: [victim] });
    const rows = json(await cli(["history", "v", "--json"], env)) as unknown[];
    expect(rows.length).toBe(before.length - 1);
    expect(json(await cli(["verify", "--json"], env))).toMatchObject({ corrupt: [] });
    const kept = await client.send(
      new ListObjectsV2Command({ Bucket: buckets.unversioned, Prefix: `${prefix}quarantine/` }),
    );
    expect(kept.Contents?.map((o) => o.Key)).toEqual([saver.layout.quarantine(victim)]);

    // a value two checkpoints share goes missing: both records are reported, the third reads
    const big = (n: number) => `${n}`.repeat(20_000);
    let parent: string | undefined;
    const records: string[] = [];
    for (const [n, version] of [
      [1, 1],
      [2, 1],
      [3, 2],
    ] as const) {
      const c = { ...checkpointOf({ big: big(version), n }), channel_versions: { big: version, n } };
      const newVersions: Record<string, number> = n === 2 ? { n } : { big: version, n };
      await saver.put(
        { configurable: { thread_id: "m", checkpoint_ns: "", ...(parent ? { checkpoint_id: parent } : {}) } },
        c,
        meta,
        newVersions,
      );
      parent = c.id;
      records.push(saver.layout.record("m", "", c.id));
    }
    await client.send(
      new DeleteObjectCommand({ Bucket: buckets.unversioned, Key: saver.layout.blob("m", "", "big", 1) }),
    );
    const broken = await cli(["verify", "m", "--json"], env);
    expect(broken.code).toBe(1);
    expect(
      (JSON.parse(broken.stdout) as { corrupt: { key: string; code: string }[] }).corrupt
        .map((c) => [c.key, c.code])
        .sort(),
    ).toEqual([records[0], records[1]].map((k) => [k, "MISSING_PART"]).sort());
    expect(json(await cli(["verify", "m", "--quarantine", "--yes", "--json"], env))).toMatchObject({
      quarantined: expect.arrayContaining([records[0], records[1]]),
    });
    expect((json(await cli(["history", "m", "--json"], env)) as unknown[]).length).toBe(1);
  });

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
