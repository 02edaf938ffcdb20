/**
 * The `langgraph-s3` command line, run as a process against the real server: exit codes, `--json`
 * parsed, `--yes` required off a terminal, sharing, and verify and quarantine of a planted corrupt
 * object. Versions and migrations are in cli-history.test.ts.
 */
import { randomUUID } from "node:crypto";
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { S3Checkpointer } from "../../src/index.js";
import { checkpointOf, meta } from "../helpers/checkpoints.js";
import { approvalGraph } from "../helpers/graphs.js";
import { buildCli, cli, envFor, history, json, loopGraph } from "../helpers/cli.js";
import { bucketsForFile, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("cli", client);
buildCli();

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
    // values of 20 kB (below) get objects of their own
    const saver = new S3Checkpointer({ bucket: buckets.unversioned, client, prefix, inlineThresholdBytes: 16 * 1024 });
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
});
