/** Behaviour of S3Checkpointer beyond the conformance suite, against the real S3 server. */
import { randomBytes, randomUUID } from "node:crypto";
import { JsonPlusSerializer, emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  BucketNotFoundError,
  CheckpointConflictError,
  EndpointUnreachableError,
  InvalidArgumentError,
  InvalidOptionError,
  S3Checkpointer,
  isS3CheckpointerError,
} from "../../src/index.js";
import {
  allVersions,
  bucketsForFile,
  describeWithVersioning,
  dropBucket,
  s3Config,
  storeFacts,
  testClient,
  uniqueBucket,
} from "../helpers/s3.js";

const client = testClient();
const { versioned, unversioned } = bucketsForFile("cp", client);
const store = storeFacts();

const meta = { source: "loop" as const, step: 0, parents: {} };
function checkpoint(values: Record<string, unknown>, versions: Record<string, string | number>): Checkpoint {
  return { ...emptyCheckpoint(), id: uuid6(-1), channel_values: values, channel_versions: versions };
}
async function saverOn(bucket: string, options: Record<string, unknown> = {}) {
  const saver = new S3Checkpointer({ bucket, client, prefix: `t/${randomUUID()}/`, ...options });
  await saver.setup();
  return saver;
}
function requests(saver: S3Checkpointer, command?: string): Promise<number> {
  return saver.metrics.registry!.getSingleMetricAsString("langgraph_s3_s3_requests_total").then((text) =>
    text
      .split("\n")
      .filter(
        (l) => l.startsWith("langgraph_s3_s3_requests_total{") && (!command || l.includes(`command="${command}"`)),
      )
      .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0),
  );
}

describe("setup()", () => {
  it("reports what an unversioned bucket supports, as the store's own answers say", async () => {
    const u = await new S3Checkpointer({ bucket: unversioned, client }).setup();
    // without conditional create and without versioning, only HEAD-then-write is left (s3rver)
    expect(u).toMatchObject({
      versioning: "Disabled",
      conditionalCreate: store.conditionalCreate,
      immutability: store.conditionalCreate ? "conditional-create" : "check-then-write",
    });
    // the probe leaves nothing behind
    expect(await allVersions(client, unversioned, "_probe/")).toEqual([]);
  });

  it.runIf(store.versioning)("reports what a versioned bucket supports [needs a store with versioning]", async () => {
    const v = await new S3Checkpointer({ bucket: versioned, client }).setup();
    expect(v.versioning).toBe("Enabled");
    // Ceph RGW ignores If-None-Match on versioned buckets: the probe notices
    expect(["conditional-create", "version-check"]).toContain(v.immutability);
    expect(await allVersions(client, versioned, "_probe/")).toEqual([]);
  });

  it("creates the bucket only when asked", async () => {
    const bucket = uniqueBucket("create");
    const saver = new S3Checkpointer({ bucket, client });
    const error = await saver.setup().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BucketNotFoundError);
    expect(isS3CheckpointerError(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/^langgraph-checkpoint-s3: .*createBucket/);
    await saver.setup({ createBucket: true });
    await saver.setup({ createBucket: true }); // idempotent
    await dropBucket(client, bucket);
  });

  it("says clearly when the credentials are wrong", async () => {
    const bad = testClient({ credentials: { accessKeyId: "nobody", secretAccessKey: "wrong-secret" } });
    const error = await new S3Checkpointer({ bucket: unversioned, client: bad }).setup().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect(String(error)).not.toContain("wrong-secret");
  });

  it("says clearly when the endpoint cannot be reached", async () => {
    // a loopback port nothing listens on
    const dead = testClient({ endpoint: "http://127.0.0.1:9", maxAttempts: 1 });
    const error = await new S3Checkpointer({ bucket: unversioned, client: dead }).setup().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EndpointUnreachableError);
  });
});

describe("options", () => {
  it("are validated eagerly, naming the option", () => {
    expect(() => new S3Checkpointer({ bucket: "" })).toThrow(InvalidOptionError);
    expect(() => new S3Checkpointer({ bucket: "bkt", client, clientConfig: {} })).toThrow(/not both/);
    expect(() => new S3Checkpointer({ bucket: "bkt", client, inlineThresholdBytes: -1 })).toThrow(
      /inlineThresholdBytes/,
    );
    expect(() => new S3Checkpointer({ bucket: "bkt", client, multipartPartSizeBytes: 1024 })).toThrow(
      /multipartPartSizeBytes/,
    );
    expect(() => new S3Checkpointer({ bucket: "bkt", client, prefix: "/abs" })).toThrow(/prefix/);
    expect(Object.isFrozen(new S3Checkpointer({ bucket: "bkt", client }).options)).toBe(true);
  });

  it("fromEnv reads the bucket, the prefix and the SDK's endpoint variable", async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, {
        LANGGRAPH_S3_BUCKET: unversioned,
        LANGGRAPH_S3_PREFIX: "env-prefix",
        AWS_ENDPOINT_URL_S3: s3Config().endpoint,
        AWS_ACCESS_KEY_ID: s3Config().credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3Config().credentials.secretAccessKey,
        AWS_REGION: "us-east-1",
      });
      const saver = S3Checkpointer.fromEnv();
      expect(saver.options.prefix).toBe("env-prefix/");
      await saver.setup();
      const config = await saver.put({ configurable: { thread_id: "env" } }, checkpoint({}, {}), meta, {});
      expect(await saver.getTuple(config)).toBeDefined();
      await saver.close();
      delete process.env.LANGGRAPH_S3_BUCKET;
      expect(() => S3Checkpointer.fromEnv()).toThrow(/LANGGRAPH_S3_BUCKET/);
    } finally {
      process.env = saved;
    }
  });
});

/** A block of tests once on each kind of bucket the store has. */
function onEachBucket(name: string, tests: (bucket: string) => void): void {
  describe(`${name}, on an unversioned bucket`, () => tests(unversioned));
  describeWithVersioning(`${name}, on a versioned bucket`, () => tests(versioned));
}

onEachBucket("checkpoints and writes", (bucket) => {
  it("never overwrites a checkpoint: same id, other content is a conflict, or never shown", async () => {
    const saver = await saverOn(bucket);
    const cp = checkpoint({ a: "first" }, { a: 1 });
    const config = await saver.put({ configurable: { thread_id: "t" } }, cp, meta, { a: 1 });
    // the same content again (a retry) is fine
    await saver.put({ configurable: { thread_id: "t" } }, cp, meta, { a: 1 });
    const second = { ...cp, channel_values: { a: "second" } };
    // the instance that wrote it knows, before any request
    await expect(saver.put({ configurable: { thread_id: "t" } }, second, meta, { a: 1 })).rejects.toThrow(
      CheckpointConflictError,
    );
    const other = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix }); // no cache
    const caps = await other.capabilities();
    const late = other.put({ configurable: { thread_id: "t" } }, second, meta, { a: 1 });
    if (caps.immutability === "version-check") {
      // one request per write: the store cannot tell the late writer; its version is never read
      await late;
    } else {
      await expect(late).rejects.toThrow(CheckpointConflictError);
    }
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    for (const reader of [other, fresh, saver]) {
      expect((await reader.getTuple(config))?.checkpoint.channel_values).toEqual({ a: "first" });
      expect((await reader.getTuple({ configurable: { thread_id: "t" } }))?.checkpoint.channel_values).toEqual({
        a: "first",
      });
      const listed = [];
      for await (const t of reader.list({ configurable: { thread_id: "t" } })) listed.push(t.checkpoint.channel_values);
      expect(listed).toEqual([{ a: "first" }]);
    }
  });

  it("a channel value written again by another writer under its key is read as its record names it", async () => {
    const saver = await saverOn(bucket, { inlineThresholdBytes: 8 });
    const big = (s: string) => s.repeat(100);
    const first = checkpoint({ doc: big("a") }, { doc: 1 });
    const config = await saver.put({ configurable: { thread_id: "b" } }, first, meta, { doc: 1 });
    // a second writer (a fork that minted the same version) stores other content under the key
    const other = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix, inlineThresholdBytes: 8 });
    const caps = await other.capabilities();
    const forked = checkpoint({ doc: big("b") }, { doc: 1 });
    const put = other.put({ configurable: { thread_id: "b" } }, forked, meta, { doc: 1 });
    if (caps.immutability !== "version-check") {
      await expect(put).rejects.toThrow(CheckpointConflictError);
      return;
    }
    const forkConfig = await put;
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    expect((await fresh.getTuple(config))?.checkpoint.channel_values).toEqual({ doc: big("a") });
    expect((await fresh.getTuple(forkConfig))?.checkpoint.channel_values).toEqual({ doc: big("b") });
  });

  it("a checkpoint id written again after its thread was deleted reads as written the second time", async () => {
    const saver = await saverOn(bucket);
    const cp = checkpoint({ a: "before" }, { a: 1 });
    await saver.put({ configurable: { thread_id: "again" } }, cp, meta, { a: 1 });
    await saver.putWrites(
      { configurable: { thread_id: "again", checkpoint_ns: "", checkpoint_id: cp.id } },
      [["ch", "old"]],
      "task",
      "~a",
    );
    await saver.deleteThread("again");
    // e.g. a migration run again into the thread: the same ids, other content (a new lineage)
    const other = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    const config = await other.put(
      { configurable: { thread_id: "again" } },
      { ...cp, channel_values: { a: "after" } },
      meta,
      { a: 1 },
    );
    await other.putWrites(config, [["ch", "new"]], "task", "~a");
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    const tuple = await fresh.getTuple({ configurable: { thread_id: "again" } });
    expect(tuple?.checkpoint.channel_values).toEqual({ a: "after" });
    expect(tuple?.pendingWrites).toEqual([["task", "ch", "new"]]);
  });

  it("keeps regular writes first-come and replaces special writes", async () => {
    const saver = await saverOn(bucket);
    const config = await saver.put({ configurable: { thread_id: "w" } }, checkpoint({}, {}), meta, {});
    await saver.putWrites(config, [["ch", "first"]], "task-1", "~a");
    await saver.putWrites(config, [["ch", "second"]], "task-1", "~a");
    await saver.putWrites(config, [["__error__", "boom 1"]], "task-2");
    await saver.putWrites(config, [["__error__", "boom 2"]], "task-2");
    await saver.putWrites(
      config,
      [
        ["x", 1],
        ["__interrupt__", "stop"],
      ],
      "task-0",
      "~b",
    );
    const tuple = await saver.getTuple(config);
    // writesSortKey order: task path, then task id, then index
    expect(tuple?.pendingWrites).toEqual([
      ["task-2", "__error__", "boom 2"],
      ["task-1", "ch", "first"],
      ["task-0", "__interrupt__", "stop"],
      ["task-0", "x", 1],
    ]);
  });

  it("stores large channels once and refers to them while unchanged", async () => {
    const saver = await saverOn(bucket, { inlineThresholdBytes: 1024 });
    const big = randomBytes(50_000).toString("base64");
    let config = await saver.put(
      { configurable: { thread_id: "big" } },
      checkpoint({ big, small: 1 }, { big: 1, small: 1 }),
      meta,
      { big: 1, small: 1 },
    );
    const putsBefore = await requests(saver, "PutObject");
    for (let i = 2; i <= 4; i += 1) {
      config = await saver.put(config, checkpoint({ big, small: i }, { big: 1, small: i }), meta, { small: i });
    }
    // one record per put, the 50 kB channel is never written again
    expect((await requests(saver, "PutObject")) - putsBefore).toBe(3);
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    expect((await fresh.getTuple({ configurable: { thread_id: "big" } }))?.checkpoint.channel_values).toEqual({
      big,
      small: 4,
    });
  });

  it("uploads bodies above the threshold as multipart and reads them back", async () => {
    const saver = await saverOn(bucket, {
      multipartThresholdBytes: 5 * 1024 * 1024,
      multipartPartSizeBytes: 5 * 1024 * 1024,
      compression: { codec: "none" },
    });
    const big = randomBytes(7 * 1024 * 1024).toString("base64"); // ~9.3 MB serialized
    const config = await saver.put({ configurable: { thread_id: "mp" } }, checkpoint({ big }, { big: 1 }), meta, {
      big: 1,
    });
    expect(await requests(saver, "UploadPart")).toBeGreaterThanOrEqual(2);
    expect(await requests(saver, "CompleteMultipartUpload")).toBe(1);
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    expect((await fresh.getTuple(config))?.checkpoint.channel_values.big).toBe(big);
  });

  it("streams a large state as zstd frames: a single PUT when it compresses below a part, multipart when not", async () => {
    const saver = await saverOn(bucket, {
      multipartThresholdBytes: 5 * 1024 * 1024,
      multipartPartSizeBytes: 5 * 1024 * 1024,
    });
    const text = "the agent asked the tool for a summary of the plan\n".repeat(400_000); // ~20 MB, compresses well
    const noise = randomBytes(12 * 1024 * 1024).toString("base64"); // ~16 MB, compresses to ~12 MB
    const config = await saver.put(
      { configurable: { thread_id: "zs" } },
      checkpoint({ text, noise }, { text: 1, noise: 1 }),
      meta,
      { text: 1, noise: 1 },
    );
    expect(await requests(saver, "CompleteMultipartUpload")).toBe(1);
    const fresh = new S3Checkpointer({ bucket, client, prefix: saver.options.prefix });
    expect((await fresh.getTuple(config))?.checkpoint.channel_values).toEqual({ text, noise });
  });

  it("lists past 1,000 objects, newest first, with before and limit", async () => {
    const saver = await saverOn(bucket);
    let config = { configurable: { thread_id: "long", checkpoint_ns: "" } } as {
      configurable: Record<string, unknown>;
    };
    const ids: string[] = [];
    const batch = 60;
    // 1,200 checkpoints: written 60 at a time (each its own parent chain is irrelevant here)
    for (let i = 0; i < 1200; i += batch) {
      const cps = Array.from({ length: batch }, (_v, j) => ({ ...checkpoint({ i: i + j }, { i: 1 }), id: uuid6(-1) }));
      cps.forEach((c) => ids.push(c.id));
      await Promise.all(cps.map((c) => saver.put(config, c, { ...meta, step: i }, { i: 1 })));
    }
    config = { configurable: { thread_id: "long", checkpoint_ns: "" } };
    const listed: string[] = [];
    for await (const t of saver.list(config)) listed.push(t.checkpoint.id);
    const newestFirst = [...ids].sort().reverse();
    expect(listed).toEqual(newestFirst);
    const before = newestFirst[1000]!;
    const page: string[] = [];
    for await (const t of saver.list(config, { before: { configurable: { checkpoint_id: before } }, limit: 5 }))
      page.push(t.checkpoint.id);
    expect(page).toEqual(newestFirst.slice(1001, 1006));
    expect((await saver.getTuple(config))?.checkpoint.id).toBe(newestFirst[0]);
  }, 240_000);
});

describe("readConcurrency and serde", () => {
  it("readConcurrency bounds the reads in flight: 1 makes them sequential", async () => {
    const writer = await saverOn(unversioned);
    let config = { configurable: { thread_id: "rc", checkpoint_ns: "" } } as { configurable: Record<string, unknown> };
    for (let i = 0; i < 3; i += 1)
      config = (await writer.put(config, checkpoint({ i }, { i: i + 1 }), meta, { i: i + 1 })) as typeof config;
    /** The most checkpoint reads (GETs under threads/) in flight at once during a list(). */
    const mostInFlight = async (readConcurrency: number) => {
      const counting = testClient();
      let inFlight = 0;
      let most = 0;
      counting.middlewareStack.add(
        (next, context) => async (args) => {
          const key = String((args.input as { Key?: unknown }).Key ?? "");
          if (context.commandName !== "GetObjectCommand" || !key.includes("/threads/")) return next(args);
          most = Math.max(most, ++inFlight);
          try {
            return await next(args);
          } finally {
            inFlight -= 1;
          }
        },
        { step: "initialize", name: "countInFlight" },
      );
      const reader = new S3Checkpointer({
        bucket: unversioned,
        client: counting,
        prefix: writer.options.prefix,
        readConcurrency,
      });
      for await (const _t of reader.list({ configurable: { thread_id: "rc", checkpoint_ns: "" } })) void _t;
      return most;
    };
    expect(await mostInFlight(16)).toBe(3); // three records read at once
    expect(await mostInFlight(1)).toBe(1); // one after another
    expect(() => new S3Checkpointer({ bucket: "bkt", client, readConcurrency: 0 })).toThrow(/readConcurrency/);
  });

  it("uses the serde it is given for checkpoints, metadata and values", async () => {
    const inner = new JsonPlusSerializer();
    const types: string[] = [];
    const serde = {
      dumpsTyped: async (value: unknown) => {
        const [type, bytes] = await inner.dumpsTyped(value);
        types.push(type);
        return [`counted-${type}`, bytes] as [string, Uint8Array];
      },
      loadsTyped: (type: string, bytes: Uint8Array | string) => inner.loadsTyped(type.replace(/^counted-/, ""), bytes),
    };
    const saver = new S3Checkpointer({ bucket: unversioned, client, serde, prefix: `serde/${randomUUID()}/` });
    const config = await saver.put({ configurable: { thread_id: "s" } }, checkpoint({ a: [1, 2] }, { a: 1 }), meta, {
      a: 1,
    });
    expect(types.length).toBe(3); // checkpoint, metadata, one channel value
    const fresh = new S3Checkpointer({ bucket: unversioned, client, serde, prefix: saver.options.prefix });
    expect((await fresh.getTuple(config))?.checkpoint.channel_values).toEqual({ a: [1, 2] });
  });
});

onEachBucket("cache of immutable objects", (bucket) => {
  it("serves repeated reads of a record from memory, and never when turned off", async () => {
    const writer = await saverOn(bucket);
    const config = await writer.put({ configurable: { thread_id: "c" } }, checkpoint({ a: 1 }, { a: 1 }), meta, {
      a: 1,
    });
    const gets = async (cacheMaxBytes: number) => {
      const reader = new S3Checkpointer({ bucket, client, prefix: writer.options.prefix, cacheMaxBytes });
      await reader.getTuple(config);
      const first = await requests(reader, "GetObject");
      await reader.getTuple(config);
      return (await requests(reader, "GetObject")) - first;
    };
    // the second read lists the writes and reads the thread's tombstone (never cached: a delete
    // by another process must show at once), and reads the record only without the cache
    expect(await gets(1024 * 1024)).toBe(1);
    expect(await gets(0)).toBe(2);
  });
});

onEachBucket("large values are read whole however they are shared", (bucket) => {
  // values above 1 MiB are turned into text before they are parsed and their bytes given back at
  // once (release.ts): never the bytes of an object a cache keeps or another read is using
  // 9.5 MiB of UTF-8, multi-byte characters included: above 8 MiB, sealed as several zstd frames
  // and decoded into a buffer of its own, which a cache keeps as it is (not a copy)
  const text = "state 🙂 日本 ".repeat(553_000);
  const bytes = randomBytes(1_500_000);
  const note = { items: Array.from({ length: 20_000 }, (_, i) => ({ i, s: `n${i}é` })) };
  const expectWhole = (tuple: Awaited<ReturnType<S3Checkpointer["getTuple"]>>) => {
    expect(tuple?.checkpoint.channel_values.text).toBe(text);
    expect(Buffer.from(tuple?.checkpoint.channel_values.bytes as Uint8Array).equals(bytes)).toBe(true);
    expect(tuple?.pendingWrites).toEqual([["task", "note", note]]);
  };

  for (const [label, cacheMaxBytes] of [
    ["cache off", 0],
    ["cache on", 64 << 20],
  ] as const) {
    it(`${label}: concurrent and repeated reads, by the writer and by fresh readers, with any serde`, async () => {
      const writer = await saverOn(bucket, { cacheMaxBytes });
      const config = await writer.put(
        { configurable: { thread_id: "large" } },
        checkpoint({ text, bytes }, { text: 1, bytes: 1 }),
        meta,
        { text: 1, bytes: 1 },
      );
      await writer.putWrites(config, [["note", note]], "task");
      const inner = new JsonPlusSerializer();
      // a serde of its own kind gets bytes, as its loadsTyped was written for
      const wrapped = {
        dumpsTyped: (value: unknown) => inner.dumpsTyped(value),
        loadsTyped: (type: string, data: Uint8Array | string) => {
          expect(typeof data === "string" && data.length > 0).toBe(false);
          return inner.loadsTyped(type, data);
        },
      };
      const prefix = writer.options.prefix;
      const readers = [
        writer,
        new S3Checkpointer({ bucket, client, prefix, cacheMaxBytes }),
        new S3Checkpointer({ bucket, client, prefix, cacheMaxBytes, serde: wrapped }),
      ];
      for (const reader of readers) {
        for (const tuple of await Promise.all([1, 2].map(() => reader.getTuple(config)))) expectWhole(tuple);
        expectWhole(await reader.getTuple(config));
      }
    });
  }
});

onEachBucket("thread ids and namespaces are arbitrary strings", (bucket) => {
  const nasty = [
    "../",
    "../../other-thread",
    "/",
    "a/b",
    "%2F",
    "%",
    "",
    "ü🙂日本",
    " ",
    "~",
    "~h00",
    "x".repeat(1000),
    "é".repeat(600),
  ];

  it("each one round-trips, stays isolated, and is deleted alone", async () => {
    const saver = await saverOn(bucket);
    const configs = [];
    for (const [i, thread] of nasty.entries()) {
      const ns = nasty[(i + 3) % nasty.length]!;
      configs.push(
        await saver.put(
          { configurable: { thread_id: thread, checkpoint_ns: ns } },
          checkpoint({ who: thread }, { who: 1 }),
          meta,
          { who: 1 },
        ),
      );
    }
    for (const [i, thread] of nasty.entries()) {
      const tuple = await saver.getTuple({
        configurable: { thread_id: thread, checkpoint_ns: nasty[(i + 3) % nasty.length] },
      });
      expect(tuple?.checkpoint.channel_values).toEqual({ who: thread });
      expect(tuple?.config.configurable?.thread_id).toBe(thread);
    }
    const everything = [];
    for await (const t of saver.list({})) everything.push(t.config.configurable?.thread_id);
    expect(everything.sort()).toEqual([...nasty].sort());
    await saver.deleteThread("../");
    expect(await saver.getTuple({ configurable: { thread_id: "../", checkpoint_ns: nasty[3] } })).toBeUndefined();
    for (const thread of nasty.filter((t) => t !== "../")) {
      const left = [];
      for await (const t of saver.list({ configurable: { thread_id: thread } })) left.push(t);
      expect(left).toHaveLength(1);
    }
  });

  it("bad input gives typed errors", async () => {
    const saver = await saverOn(bucket);
    await expect(saver.put({ configurable: {} }, checkpoint({}, {}), meta, {})).rejects.toThrow(InvalidArgumentError);
    await expect(saver.put({ configurable: { thread_id: {} } }, checkpoint({}, {}), meta, {})).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(
      saver.put({ configurable: { thread_id: "t" } }, { ...checkpoint({}, {}), id: "no/slashes" }, meta, {}),
    ).rejects.toThrow(InvalidArgumentError);
    await expect(saver.putWrites({ configurable: { thread_id: "t" } }, [], "task")).rejects.toThrow(/checkpoint_id/);
    await expect(saver.getTuple({ configurable: { thread_id: "t", checkpoint_id: "../x" } })).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});

describe("getNextVersion", () => {
  it("mints increasing, fork-safe versions", () => {
    const saver = new S3Checkpointer({ bucket: "bkt", client });
    // fork-safe versions are strings at run time (typed as numbers for compile({ checkpointer }))
    const v1 = saver.getNextVersion(undefined) as unknown as string;
    const v2a = saver.getNextVersion(v1 as unknown as number) as unknown as string;
    const v2b = saver.getNextVersion(v1 as unknown as number) as unknown as string;
    expect(v1).toMatch(/^0{31}1\.[0-9a-f]{16}$/);
    expect(v2a > v1 && v2b > v1).toBe(true);
    expect(v2a).not.toBe(v2b); // two forks of one parent never share a (channel, version) key
    expect(saver.getNextVersion(7)).toBe(8); // threads that began with integers keep them
  });
});
