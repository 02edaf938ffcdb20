/**
 * Client-side encryption against the real server: round trips from 0 B to a multipart upload,
 * every kind of tampering with stored objects, key rotation with reencryptThread, plaintext
 * objects, a graph run read by a second process, and server-side encryption headers.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { inspect } from "node:util";
import {
  CopyObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import { ERROR, emptyCheckpoint, uuid6, type Checkpoint } from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import { describe, expect, it } from "vitest";
import {
  DecryptionFailedError,
  InvalidOptionError,
  S3Checkpointer,
  generateKey,
  kmsKeyProvider,
} from "../../src/index.js";
import { fakeKms } from "../helpers/fake-kms.js";
import { bucketsForFile, describeWithVersioning, testClient } from "../helpers/s3.js";

const client = testClient();
const buckets = bucketsForFile("enc", client);
const meta = { source: "loop" as const, step: 0, parents: {} };
const keyA = generateKey();
const keyB = generateKey();

function cp(values: Record<string, unknown>): Checkpoint {
  return {
    ...emptyCheckpoint(),
    id: uuid6(-1),
    channel_values: values,
    channel_versions: Object.fromEntries(Object.keys(values).map((k) => [k, 1])),
  };
}

function saver(prefix: string, encryption?: object, extra: Record<string, unknown> = {}) {
  return new S3Checkpointer({
    bucket: buckets.unversioned,
    client,
    prefix,
    inlineThresholdBytes: 64,
    encryption: encryption as never,
    ...extra,
  });
}

async function rawKeys(prefix: string): Promise<string[]> {
  const res = await client.send(new ListObjectsV2Command({ Bucket: buckets.unversioned, Prefix: `${prefix}threads/` }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

async function rawGet(key: string): Promise<Buffer> {
  const res = await client.send(new GetObjectCommand({ Bucket: buckets.unversioned, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

async function rawPut(key: string, body: Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: buckets.unversioned, Key: key, Body: body }));
}

const ringA = { keys: { a: keyA }, currentKeyId: "a" };

describe("encrypted state round-trips", () => {
  it.each([
    ["0 B", 0],
    ["1 B", 1],
    ["1 MB", 1024 * 1024],
    ["64 MB (multipart)", 64 * 1024 * 1024],
  ])(
    "%s",
    async (_label, bytes) => {
      const prefix = `enc/${randomUUID()}/`;
      const value = randomBytes(Math.ceil((bytes * 3) / 4))
        .toString("base64")
        .slice(0, bytes);
      const writer = saver(prefix, ringA, { multipartThresholdBytes: 16 * 1024 * 1024 });
      const first = cp({ value, marker: "visible-marker-text" });
      const config = await writer.put({ configurable: { thread_id: "t", checkpoint_ns: "" } }, first, meta, {
        ...first.channel_versions,
      });
      const fresh = saver(prefix, ringA);
      const tuple = await fresh.getTuple(config);
      expect((tuple!.checkpoint.channel_values as { value: string }).value === value).toBe(true);
      // nothing of the state is readable in the bucket
      for (const key of await rawKeys(prefix)) expect((await rawGet(key)).includes("visible-marker-text")).toBe(false);
    },
    120_000,
  );
});

describe("tampering with encrypted objects", () => {
  async function setup() {
    const prefix = `enc/${randomUUID()}/`;
    const s = saver(prefix, ringA);
    const c1 = await s.put({ configurable: { thread_id: "t1", checkpoint_ns: "" } }, cp({ a: "one" }), meta, { a: 1 });
    const c2 = await s.put({ configurable: { thread_id: "t2", checkpoint_ns: "" } }, cp({ a: "two" }), meta, { a: 1 });
    const keys = await rawKeys(prefix);
    const k1 = keys.find((k) => k.includes("/t1/") && k.endsWith("/c"))!;
    const k2 = keys.find((k) => k.includes("/t2/") && k.endsWith("/c"))!;
    return { prefix, c1, c2, k1, k2, read: (c: typeof c1) => saver(prefix, ringA).getTuple(c) };
  }

  it("a flipped byte in the ciphertext, the tag or the header", async () => {
    const { c1, k1, read } = await setup();
    const original = await rawGet(k1);
    for (const at of [original.length - 30, original.length - 1, 15]) {
      const altered = Buffer.from(original);
      altered[at]! ^= 0x40;
      await rawPut(k1, altered);
      await expect(read(c1)).rejects.toThrow(DecryptionFailedError);
    }
    await rawPut(k1, original);
    expect((await read(c1))?.checkpoint.channel_values).toEqual({ a: "one" });
  });

  it("two objects' bodies swapped, a body truncated, a body moved to another thread", async () => {
    const { c1, c2, k1, k2, read } = await setup();
    const [b1, b2] = [await rawGet(k1), await rawGet(k2)];
    await rawPut(k1, b2);
    await rawPut(k2, b1);
    await expect(read(c1)).rejects.toThrow(DecryptionFailedError);
    await expect(read(c2)).rejects.toThrow(DecryptionFailedError);
    await rawPut(k1, b1.subarray(0, b1.length - 5));
    await expect(read(c1)).rejects.toThrow(DecryptionFailedError);
    // moved: thread t1's record copied under t2's key (a server-side copy, as someone with bucket access would)
    await client.send(
      new CopyObjectCommand({ Bucket: buckets.unversioned, Key: k2, CopySource: `${buckets.unversioned}/${k1}` }),
    );
    await rawPut(k1, b1);
    await client.send(
      new CopyObjectCommand({
        Bucket: buckets.unversioned,
        Key: k2,
        CopySource: `${buckets.unversioned}/${encodeURI(k1)}`,
      }),
    );
    await expect(read(c2)).rejects.toThrow(DecryptionFailedError);
    expect((await read(c1))?.checkpoint.channel_values).toEqual({ a: "one" });
  });
});

describe("tampering with a streamed encrypted body (a large state, uploaded in parts)", () => {
  // 24 MiB of state: three zstd frames, encrypted in 1 MiB chunks as the multipart upload takes them
  const stride = (1 << 20) + 16;
  const big = () => randomBytes(18 * 1024 * 1024).toString("base64");

  it("a flipped byte in a middle chunk, two chunks swapped, a cut at a chunk boundary, a body moved to another thread", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const s = saver(prefix, ringA, { multipartThresholdBytes: 8 * 1024 * 1024 });
    const value = big();
    const put = (thread: string) =>
      s.put({ configurable: { thread_id: thread, checkpoint_ns: "" } }, cp({ doc: value }), meta, { doc: 1 });
    const [c1] = [await put("t1"), await put("t2")];
    const keys = await rawKeys(prefix);
    const [b1, b2] = ["/t1/", "/t2/"].map((t) => keys.find((k) => k.includes(t) && k.includes("/b/"))!);
    const read = () => saver(prefix, ringA).getTuple(c1);
    const original = await rawGet(b1!);
    const payloadStart = 9 + original.readUInt32BE(5) + 32;
    expect(Math.floor((original.length - payloadStart) / stride)).toBeGreaterThan(10);
    const middle = payloadStart + 5 * stride;
    const flipped = Buffer.from(original);
    flipped[middle + 1000]! ^= 0x01;
    const swapped = Buffer.concat([
      original.subarray(0, middle),
      original.subarray(middle + stride, middle + 2 * stride),
      original.subarray(middle, middle + stride),
      original.subarray(middle + 2 * stride),
    ]);
    for (const altered of [flipped, swapped, original.subarray(0, middle)]) {
      await rawPut(b1!, altered);
      await expect(read()).rejects.toThrow(DecryptionFailedError);
    }
    // thread t2's value (the same state, sealed for t2's key) moved under t1's key
    await rawPut(b1!, await rawGet(b2!));
    await expect(read()).rejects.toThrow(DecryptionFailedError);
    await rawPut(b1!, original);
    expect(((await read())!.checkpoint.channel_values as { doc: string }).doc === value).toBe(true);
  }, 180_000);
});

describe("keys", () => {
  it("rotation A → B → reencryptThread → A dropped: everything readable", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const a = saver(prefix, ringA);
    let config = await a.put(
      { configurable: { thread_id: "rot", checkpoint_ns: "" } },
      cp({ big: "x".repeat(500), n: 1 }),
      meta,
      { big: 1, n: 1 },
    );
    await a.putWrites(config, [["n", 2]], "task");
    const both = saver(prefix, { keys: { a: keyA, b: keyB }, currentKeyId: "b" });
    const next: Checkpoint = { ...cp({ big: "x".repeat(500), n: 3 }), channel_versions: { big: 1, n: 3 } };
    config = await both.put(config, next, meta, { n: 3 });
    const report = await both.reencryptThread("rot");
    expect(report).toMatchObject({ threadId: "rot", alreadyCurrent: 1, olderVersionsKeepOldKeys: false });
    expect(report.reencrypted).toBe(report.objects - 1);
    expect((await both.reencryptThread("rot")).reencrypted).toBe(0); // idempotent
    const onlyB = saver(prefix, { keys: { b: keyB }, currentKeyId: "b" });
    const tuple = await onlyB.getTuple(config);
    expect(tuple?.checkpoint.channel_values).toEqual({ big: "x".repeat(500), n: 3 });
    const history = [];
    for await (const t of onlyB.list({ configurable: { thread_id: "rot" } })) history.push(t);
    expect(history).toHaveLength(2);
    expect(history[1]!.pendingWrites).toEqual([["task", "n", 2]]);
  });

  it("with KMS data keys: reencryptThread settles under one KMS key and moves a thread to the next one", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const { client: kms } = fakeKms(["alias/test", "alias/next"]);
    const kmsOptions = { client: kms as never, encryptionContext: { app: "x" }, dataKeyTtlMs: 1 };
    const first = saver(prefix, kmsKeyProvider({ ...kmsOptions, keyId: "alias/test" }));
    let config: RunnableConfig = { configurable: { thread_id: "kms", checkpoint_ns: "" } };
    for (let n = 1; n <= 3; n += 1) {
      // each write under a new data key of the same KMS key (dataKeyTtlMs: 1)
      const next: Checkpoint = { ...cp({ big: `${n}`.repeat(500), n }), channel_versions: { big: n, n } };
      config = await first.put(config, next, meta, { big: n, n });
      await new Promise((r) => setTimeout(r, 3));
    }
    const settled = await first.reencryptThread("kms");
    expect(settled).toMatchObject({ reencrypted: 0, alreadyCurrent: settled.objects });
    const moved = saver(prefix, kmsKeyProvider({ ...kmsOptions, keyId: "alias/next" }));
    expect((await moved.reencryptThread("kms")).reencrypted).toBe(settled.objects);
    expect((await moved.reencryptThread("kms")).reencrypted).toBe(0);
    const tuple = await saver(prefix, kmsKeyProvider({ ...kmsOptions, keyId: "alias/next" })).getTuple(config);
    expect(tuple?.checkpoint.channel_values).toEqual({ big: "3".repeat(500), n: 3 });
  });

  it("a wrong key, a missing key, a plaintext object with required: true", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const config = await saver(prefix, ringA).put(
      { configurable: { thread_id: "k", checkpoint_ns: "" } },
      cp({ n: 1 }),
      meta,
      { n: 1 },
    );
    await expect(saver(prefix, { keys: { a: keyB }, currentKeyId: "a" }).getTuple(config)).rejects.toThrow(
      DecryptionFailedError,
    );
    const missing = await saver(prefix, { keys: { b: keyB }, currentKeyId: "b" })
      .getTuple(config)
      .catch((e: Error) => e);
    expect(missing).toBeInstanceOf(DecryptionFailedError);
    expect((missing as Error).message).toContain('"a"');
    await expect(saver(prefix).getTuple(config)).rejects.toThrow(/encrypted/);
    // plaintext objects: read by an encrypting checkpointer, refused with required
    const plainConfig = await saver(prefix).put(
      { configurable: { thread_id: "p", checkpoint_ns: "" } },
      cp({ n: 2 }),
      meta,
      { n: 1 },
    );
    const said: string[] = [];
    const logger = { debug() {}, warn() {}, error() {}, info: (_o: unknown, m?: string) => said.push(m ?? "") };
    const mixed = saver(prefix, ringA, { logger });
    expect((await mixed.getTuple(plainConfig))?.checkpoint.channel_values).toEqual({ n: 2 });
    for (let i = 0; i < 3; i += 1) await saver(prefix).put(plainConfig, cp({ n: 3 + i }), meta, { n: 2 + i });
    for await (const t of mixed.list({ configurable: { thread_id: "p" } }))
      expect(t.checkpoint.channel_values).toBeDefined();
    expect(said.filter((m) => m.includes("not encrypted"))).toHaveLength(1); // said once, not per object
    await expect(saver(prefix, { ...ringA, required: true }).getTuple(plainConfig)).rejects.toThrow(
      DecryptionFailedError,
    );
    // reencryptThread turns the plaintext thread into an encrypted one
    await saver(prefix, ringA).reencryptThread("p");
    expect(
      (await saver(prefix, { ...ringA, required: true }).getTuple(plainConfig))?.checkpoint.channel_values,
    ).toEqual({ n: 2 });
  });

  it("keys never show in inspect, JSON, errors or logs", async () => {
    const lines: string[] = [];
    const logger = Object.fromEntries(
      ["debug", "info", "warn", "error"].map((l) => [
        l,
        (o: unknown, m?: string) => lines.push(JSON.stringify(o) + (m ?? "")),
      ]),
    ) as never;
    const s = saver(`enc/${randomUUID()}/`, ringA, { logger });
    await s.put({ configurable: { thread_id: "i", checkpoint_ns: "" } }, cp({ n: 1 }), meta, { n: 1 });
    await s.reencryptThread("i");
    const shown = [
      inspect(s, { depth: 20, showHidden: true }),
      JSON.stringify({ ...s.options, client: undefined }),
      ...lines,
    ].join("\n");
    expect(shown).not.toContain(keyA);
    expect(shown).not.toContain(Buffer.from(keyA, "base64").toString("hex"));
    const bad = (() => {
      try {
        saver("x/", { keys: { a: keyA.slice(0, 30) }, currentKeyId: "a" });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(bad).toBeInstanceOf(InvalidOptionError);
    expect(bad!.message).not.toContain(keyA.slice(0, 30));
  });

  it("a graph run encrypted, continued and read by a second process with the same keyring", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const State = Annotation.Root({
      notes: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
    });
    const build = (s: S3Checkpointer) =>
      new StateGraph(State)
        .addNode("note", (st) => ({ notes: [`note ${st.notes.length} ${"secret ".repeat(20)}`] }))
        .addEdge(START, "note")
        .addEdge("note", END)
        .compile({ checkpointer: s });
    const config = { configurable: { thread_id: "g" } };
    await build(saver(prefix, ringA)).invoke({ notes: [] }, config);
    await build(saver(prefix, ringA)).invoke({ notes: [] }, config);
    const state = await build(saver(prefix, { keys: { a: keyA }, currentKeyId: "a", required: true })).getState(config);
    expect(state.values.notes).toHaveLength(2);
    for (const key of await rawKeys(prefix)) expect((await rawGet(key)).includes("secret")).toBe(false);
  });
});

describeWithVersioning("history of an encrypted thread", () => {
  it("listVersions names a namespace too long for its key, read from the encrypted record", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const a = saver(prefix, ringA, { bucket: buckets.versioned });
    const ns = `sub:${"n".repeat(300)}`; // longer than a key keeps readable: the key holds its digest
    const config = await a.put({ configurable: { thread_id: "h", checkpoint_ns: ns } }, cp({ n: 1 }), meta, { n: 1 });
    const listed = [];
    for await (const v of a.listVersions("h")) listed.push(v);
    expect(listed.map((v) => [v.checkpointId, v.checkpointNs])).toEqual([[config.configurable!.checkpoint_id, ns]]);
  });
});

describeWithVersioning("key rotation on a versioned bucket", () => {
  it("reencryptThread leaves each key's first version under the new key: readers with only that key read all", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const onVersioned = { bucket: buckets.versioned };
    const a = saver(prefix, ringA, onVersioned);
    const config = await a.put(
      { configurable: { thread_id: "rv", checkpoint_ns: "" } },
      cp({ big: "y".repeat(500), n: 1 }),
      meta,
      { big: 1, n: 1 },
    );
    await a.putWrites(config, [["n", 2]], "task");
    const both = saver(prefix, { keys: { a: keyA, b: keyB }, currentKeyId: "b" }, onVersioned);
    const report = await both.reencryptThread("rv");
    expect(report.reencrypted).toBe(report.objects);
    expect((await both.reencryptThread("rv")).reencrypted).toBe(0); // idempotent
    const onlyB = saver(prefix, { keys: { b: keyB }, currentKeyId: "b" }, onVersioned);
    const tuple = await onlyB.getTuple(config);
    expect(tuple?.checkpoint.channel_values).toEqual({ big: "y".repeat(500), n: 1 });
    expect(tuple?.pendingWrites).toEqual([["task", "n", 2]]);
  });
});

/**
 * reencryptThread while a graph writes the thread: a writer replaces a special write (an error)
 * between reencryptThread's read of it and its rewrite. The rewrite must not bring the earlier
 * error back, on each kind of store.
 */
function raceWithWriter(bucket: () => string, options: { ignoreIfMatch?: boolean; guard?: string }) {
  return async () => {
    const prefix = `enc/${randomUUID()}/`;
    const onBucket = { bucket: bucket() };
    const first = saver(prefix, ringA, onBucket);
    const config = await first.put({ configurable: { thread_id: "race", checkpoint_ns: "" } }, cp({ n: 1 }), meta, {
      n: 1,
    });
    await first.putWrites(config, [[ERROR, "first error"]], "task");
    // the racing run: another process, still writing with key A
    const racer = saver(prefix, ringA, onBucket);
    const racing = testClient();
    let raced = false;
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === "PutObjectCommand" && /\/w\/[^/]+\/s1$/.test(input.Key ?? "") && !raced) {
          raced = true; // the rewrite of the special write is about to be sent: the run replaces it first
          await racer.putWrites(config, [[ERROR, "second error"]], "task");
        }
        return next(args);
      },
      { step: "initialize", name: "raceTheRewrite" },
    );
    if (options.ignoreIfMatch) {
      // a store that ignores If-Match (as some S3-compatibles do): the header never reaches it
      racing.middlewareStack.add(
        (next) => async (args) => {
          delete (args.request as { headers: Record<string, string> }).headers["if-match"];
          return next(args);
        },
        { step: "build", name: "dropIfMatch" },
      );
    }
    const both = new S3Checkpointer({
      ...onBucket,
      client: racing,
      prefix,
      inlineThresholdBytes: 64,
      encryption: { keys: { a: keyA, b: keyB }, currentKeyId: "b" },
    });
    const report = await both.reencryptThread("race");
    expect(raced).toBe(true);
    expect(report.changedMeanwhile).toBe(0);
    if (options.guard) expect(report.rewriteGuard).toBe(options.guard);
    else expect(["if-match", "version-check"]).toContain(report.rewriteGuard);
    // the writer's error stands, and everything is under key B
    const onlyB = saver(prefix, { keys: { b: keyB }, currentKeyId: "b" }, onBucket);
    expect((await onlyB.getTuple(config))?.pendingWrites).toEqual([["task", ERROR, "second error"]]);
    expect((await both.reencryptThread("race")).reencrypted).toBe(0);
  };
}

describe("reencryptThread racing a writer", () => {
  it(
    "unversioned bucket (If-Match on the ETag read): a special write replaced meanwhile is read again, never undone",
    raceWithWriter(() => buckets.unversioned, { guard: "if-match" }),
  );

  it("a thread deleted while it is re-encrypted stays deleted", async () => {
    const prefix = `enc/${randomUUID()}/`;
    const first = saver(prefix, ringA);
    await first.put({ configurable: { thread_id: "gone", checkpoint_ns: "" } }, cp({ n: 1 }), meta, { n: 1 });
    const deleter = saver(prefix, ringA);
    const racing = testClient();
    let raced = false;
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === "PutObjectCommand" && (input.Key ?? "").endsWith("/c") && !raced) {
          raced = true;
          await deleter.deleteThread("gone");
        }
        return next(args);
      },
      { step: "initialize", name: "deleteBeforeTheRewrite" },
    );
    const both = new S3Checkpointer({
      bucket: buckets.unversioned,
      client: racing,
      prefix,
      encryption: { keys: { a: keyA, b: keyB }, currentKeyId: "b" },
    });
    const report = await both.reencryptThread("gone");
    expect(raced).toBe(true);
    expect(report.reencrypted).toBe(0);
    expect(await rawKeys(prefix)).toEqual([]);
  });
});

describeWithVersioning("reencryptThread racing a writer on a versioned bucket", () => {
  it(
    "with the guard the probe finds (a version check on Ceph RGW, which refuses If-Match on versioned buckets whatever the ETag): a special write replaced meanwhile is never undone",
    raceWithWriter(() => buckets.versioned, {}),
  );

  it(
    "on a store that ignores If-Match (a version check): the rewrite over the writer's version is taken back",
    raceWithWriter(() => buckets.versioned, { guard: "version-check", ignoreIfMatch: true }),
  );
});

describe("server-side encryption", () => {
  function recordingClient(): { client: S3Client; seen: { command: string; sse?: string; kms?: string }[] } {
    const c = testClient();
    const seen: { command: string; sse?: string; kms?: string }[] = [];
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        seen.push({
          command: String(context.commandName),
          sse: headers["x-amz-server-side-encryption"],
          kms: headers["x-amz-server-side-encryption-aws-kms-key-id"],
        });
        return next(args);
      },
      { step: "finalizeRequest", name: "recordSse" },
    );
    return { client: c, seen };
  }

  it("asks for SSE-S3 on every write: puts, multipart uploads and copies", async () => {
    const { client: recording, seen } = recordingClient();
    const s = new S3Checkpointer({
      bucket: buckets.unversioned,
      client: recording,
      prefix: `enc/${randomUUID()}/`,
      serverSideEncryption: { type: "AES256" },
      multipartThresholdBytes: 6 * 1024 * 1024,
      multipartPartSizeBytes: 5 * 1024 * 1024,
      compression: "none",
      inlineThresholdBytes: 64,
    });
    const config = await s.put(
      { configurable: { thread_id: "sse", checkpoint_ns: "" } },
      cp({ big: "y".repeat(7 * 1024 * 1024), n: 1 }),
      meta,
      { big: 1, n: 1 },
    );
    await s.putWrites(config, [["n", 2]], "task");
    await s.copyThread("sse", "sse-copy");
    const writes = seen.filter((r) => ["PutObjectCommand", "CreateMultipartUploadCommand"].includes(r.command));
    expect(writes.some((r) => r.command === "CreateMultipartUploadCommand")).toBe(true);
    expect(writes.length).toBeGreaterThanOrEqual(5); // blob, record, writes, and their copies
    expect(writes.every((r) => r.sse === "AES256")).toBe(true);
    // Ceph RGW here does not encrypt at rest, but reads work as ever
    expect((await s.getTuple({ configurable: { thread_id: "sse-copy" } }))?.checkpoint.channel_values).toMatchObject({
      n: 1,
    });
  }, 60_000);

  it("asks for SSE-KMS with its key and bucket key on every write (headers taken off before the server sees them)", async () => {
    const c = testClient();
    const seen: Record<string, string | undefined>[] = [];
    c.middlewareStack.add(
      (next, context) => async (args) => {
        const headers = (args.request as { headers: Record<string, string> }).headers;
        if (["PutObjectCommand", "CreateMultipartUploadCommand"].includes(String(context.commandName))) {
          const sse = Object.fromEntries(
            Object.entries(headers).filter(([h]) => h.startsWith("x-amz-server-side-encryption")),
          );
          seen.push(sse);
          // Ceph RGW here has no KMS and refuses the request with them: record, then drop them
          for (const h of Object.keys(sse)) delete headers[h];
        }
        return next(args);
      },
      { step: "build", name: "recordAndDropSseKms" },
    );
    const s = new S3Checkpointer({
      bucket: buckets.unversioned,
      client: c,
      prefix: `enc/${randomUUID()}/`,
      serverSideEncryption: { type: "aws:kms", keyId: "alias/agent-state", bucketKey: true },
      inlineThresholdBytes: 64,
    });
    const config = await s.put(
      { configurable: { thread_id: "kms-sse", checkpoint_ns: "" } },
      cp({ big: "k".repeat(500), n: 1 }),
      meta,
      { big: 1, n: 1 },
    );
    await s.putWrites(config, [["n", 2]], "task");
    expect(seen.length).toBeGreaterThanOrEqual(3); // blob, record, writes
    for (const headers of seen) {
      expect(headers).toEqual({
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-aws-kms-key-id": "alias/agent-state",
        "x-amz-server-side-encryption-bucket-key-enabled": "true",
      });
    }
  });

  it("SSE-KMS options are checked (Ceph RGW here has no KMS to send them to)", () => {
    expect(
      () => new S3Checkpointer({ bucket: "b", client, serverSideEncryption: { type: "aws:kms", keyId: "" } }),
    ).toThrow(InvalidOptionError);
    expect(() => new S3Checkpointer({ bucket: "b", client, serverSideEncryption: { type: "DES" } as never })).toThrow(
      InvalidOptionError,
    );
    expect(
      () =>
        new S3Checkpointer({
          bucket: "b",
          client,
          serverSideEncryption: { type: "aws:kms", keyId: "alias/x", bucketKey: true },
        }),
    ).not.toThrow();
  });
});
