/** The bundle of a share: its format, its checks, its ids, and the bounded download of a URL. */
import { createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
import { decompress as zstdDecompress } from "fzstd";
import { JsonPlusSerializer, type CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { BUNDLE_FORMAT, encodeBundle, newShareKey, openBundle, sealBundle, sharedTuple } from "../../src/bundle.js";
import {
  CheckpointCorruptedError,
  DecryptionFailedError,
  InvalidArgumentError,
  ShareUnavailableError,
} from "../../src/errors.js";
import { KeyLayout, assertShareId, shareExpiry, shareIdFor } from "../../src/layout.js";
import { resolveCompression } from "../../src/options.js";
import { pack } from "../../src/record.js";
import { readShared } from "../../src/receive.js";
import { checkpointOf, meta as loopMeta } from "../helpers/checkpoints.js";

const serde = new JsonPlusSerializer();
const compression = resolveCompression(undefined);
const maxBytes = 16 << 20;
const expiresAt = new Date("2030-01-02T03:04:05Z");
const shareId = shareIdFor(expiresAt, randomBytes(16));

function makeChain(): CheckpointTuple[] {
  const root = checkpointOf({ topic: "tides" });
  const child = checkpointOf({ topic: "tides", notes: ["a", "b"] }, 2);
  const at = (id: string) => ({ configurable: { thread_id: "t", checkpoint_ns: "", checkpoint_id: id } });
  return [
    { config: at(root.id), checkpoint: root, metadata: loopMeta, pendingWrites: [] },
    {
      config: at(child.id),
      checkpoint: child,
      metadata: { ...loopMeta, step: 1 },
      parentConfig: at(root.id),
      pendingWrites: [
        ["task-1", "notes", ["c"]],
        ["task-2", "__interrupt__", [{ value: "go?" }]],
      ],
    },
  ];
}

const CHAIN = makeChain();
const chain = () => structuredClone(CHAIN);

const about = { shareId, createdAt: new Date("2030-01-01T00:00:00Z"), expiresAt, threadId: "t", checkpointNs: "" };

async function sealed(key?: Buffer, tuples = chain()) {
  const plaintext = await encodeBundle(serde, about, tuples);
  return (await sealBundle(plaintext, { shareId, compression, maxBytes, key })).body;
}

describe("share ids", () => {
  it("carry their expiry, to the second, and 128 random bits", () => {
    expect(shareId).toMatch(/^20300102T030405Z-[A-Za-z0-9_-]{22}$/);
    expect(shareExpiry(shareId)).toEqual(expiresAt);
    for (const bad of [
      "",
      "x",
      "../x",
      `${shareId}/`,
      shareId.replace("T", "t"),
      "20301302T030405Z-AAAAAAAAAAAAAAAAAAAAAA",
      42,
    ]) {
      expect(shareExpiry(bad)).toBeUndefined();
      expect(() => assertShareId(bad)).toThrow(InvalidArgumentError);
    }
  });

  it("have their keys in the layout: a bundle and its about under {prefix}shares/{id}/", () => {
    const layout = new KeyLayout("p");
    expect(layout.shareBundle(shareId)).toBe(`p/shares/${shareId}/bundle`);
    expect(layout.shareAbout(shareId)).toBe(`p/shares/${shareId}/about`);
    expect(layout.parseShareBundle(layout.shareBundle(shareId))).toBe(shareId);
    expect(layout.parseShareBundle(layout.shareAbout(shareId))).toBeUndefined();
    expect(layout.parseShareBundle(`p/threads/${shareId}/bundle`)).toBeUndefined();
    expect(() => layout.shareBundle("../threads/x")).toThrow(InvalidArgumentError);
    // the namespaces a share looks into for subgraph checkpoints
    for (const ns of ["", "review:1", "a/b|c:2"])
      expect(layout.namespaceOfFolder("t", layout.namespace("t", ns))).toBe(ns);
    expect(layout.namespaceOfFolder("t", layout.namespace("u", "x"))).toBeUndefined();
    expect(layout.namespaceOfFolder("t", `${layout.namespaces("t")}a/b/`)).toBeUndefined();
  });
});

describe("the bundle format", () => {
  it.each([
    ["plain", undefined],
    ["encrypted", newShareKey()],
  ])("round-trips a chain with its pending writes (%s)", async (_kind, key) => {
    const tuples = chain();
    const bundle = await openBundle(await sealed(key, tuples), { shareId, maxBytes, key, serde });
    expect(bundle).toMatchObject({ shareId, threadId: "t", checkpointNs: "", expiresAt, createdAt: about.createdAt });
    expect(bundle.tuples).toEqual(tuples);
  });

  it("carries subgraph checkpoints after the shared namespace's chain; the shared one is the last of that chain", async () => {
    const tuples = chain();
    const sub = checkpointOf({ notes: ["inside"] });
    tuples.push({
      config: { configurable: { thread_id: "t", checkpoint_ns: "review:1", checkpoint_id: sub.id } },
      checkpoint: sub,
      metadata: { ...loopMeta, parents: { "": CHAIN[1]!.checkpoint.id } },
      pendingWrites: [["task-3", "__interrupt__", [{ value: "approve?" }]]],
    });
    const bundle = await openBundle(await sealed(undefined, tuples), { shareId, maxBytes, serde });
    expect(bundle.tuples).toEqual(tuples);
    expect(sharedTuple(bundle).checkpoint.id).toBe(CHAIN[1]!.checkpoint.id);
  });

  it("refuses the wrong key, no key, a plain bundle under a key, and a bundle of another share", async () => {
    const key = newShareKey();
    const body = await sealed(key);
    await expect(openBundle(body, { shareId, maxBytes, key: newShareKey(), serde })).rejects.toThrow(
      DecryptionFailedError,
    );
    await expect(openBundle(body, { shareId, maxBytes, serde })).rejects.toThrow(DecryptionFailedError);
    await expect(openBundle(body, { shareId, maxBytes, key: key.subarray(0, 16), serde })).rejects.toThrow(
      DecryptionFailedError,
    );
    await expect(openBundle(await sealed(), { shareId, maxBytes, key, serde })).rejects.toThrow(DecryptionFailedError);
    const other = shareIdFor(expiresAt, randomBytes(16));
    await expect(openBundle(await sealed(), { shareId: other, maxBytes, serde })).rejects.toThrow(
      CheckpointCorruptedError,
    );
  });

  it("refuses a bundle over the size bound", async () => {
    await expect(openBundle(await sealed(), { shareId, maxBytes: 64, serde })).rejects.toThrow(
      CheckpointCorruptedError,
    );
  });

  const good = async () => {
    const [type, bytes] = await serde.dumpsTyped(chain()[0]!.checkpoint);
    const [mtype, mbytes] = await serde.dumpsTyped(loopMeta);
    const entry = {
      checkpoint_id: chain()[0]!.checkpoint.id,
      checkpoint: { type, s: 0 },
      metadata: { type: mtype, s: 1 },
      writes: [] as unknown[],
    };
    return {
      head: {
        kind: "share",
        fmt: BUNDLE_FORMAT,
        share_id: shareId,
        created_at: "2030-01-01T00:00:00Z",
        expires_at: expiresAt.toISOString(),
        thread_id: "t",
        checkpoint_ns: "",
        checkpoints: [entry],
      },
      entry,
      sections: [bytes, mbytes],
    };
  };
  const openHead = async (head: object, sections: Uint8Array[]) =>
    openBundle((await sealBundle(pack(head, sections), { shareId, compression, maxBytes })).body, {
      shareId,
      maxBytes,
      serde,
    });

  it("reads a hand-made bundle (the documented format)", async () => {
    const { head, sections } = await good();
    const bundle = await openHead(head, sections);
    expect(bundle.tuples).toEqual([{ ...CHAIN[0], config: bundle.tuples[0]!.config, pendingWrites: [] }]);
    expect(bundle.tuples[0]!.config.configurable).toEqual({
      thread_id: "t",
      checkpoint_ns: "",
      checkpoint_id: CHAIN[0]!.checkpoint.id,
    });
  });

  it.each([
    ["a newer format", (h: Record<string, unknown>) => ({ ...h, fmt: BUNDLE_FORMAT + 1 }), /newer/],
    ["another kind", (h: Record<string, unknown>) => ({ ...h, kind: "checkpoint" }), /kind/],
    ["no checkpoints", (h: Record<string, unknown>) => ({ ...h, checkpoints: [] }), /no checkpoints/],
    ["a bad date", (h: Record<string, unknown>) => ({ ...h, expires_at: "soon" }), /dates/],
    [
      "a section out of range",
      (h: Record<string, unknown>) => ({
        ...h,
        checkpoints: [{ ...(h.checkpoints as object[])[0], checkpoint: { type: "json", s: 9 } }],
      }),
      /missing/,
    ],
    [
      "a bad write",
      (h: Record<string, unknown>) => ({
        ...h,
        checkpoints: [{ ...(h.checkpoints as object[])[0], writes: [{ channel: "c" }] }],
      }),
      /bad write/,
    ],
    [
      "a broken parent chain",
      (h: Record<string, unknown>) => ({
        ...h,
        checkpoints: [
          (h.checkpoints as object[])[0],
          { ...(h.checkpoints as object[])[0], parent_checkpoint_id: "elsewhere" },
        ],
      }),
      /parent chain/,
    ],
    [
      "a subgraph entry first",
      (h: Record<string, unknown>) => ({
        ...h,
        checkpoints: [{ ...(h.checkpoints as object[])[0], checkpoint_ns: "sub:1" }],
      }),
      /must come first/,
    ],
    [
      "a subgraph entry in the shared namespace",
      (h: Record<string, unknown>) => ({
        ...h,
        checkpoints: [{ ...(h.checkpoints as object[])[0], checkpoint_ns: "" }],
      }),
      /bad namespace/,
    ],
    [
      "another share's id",
      (h: Record<string, unknown>) => ({ ...h, share_id: shareIdFor(expiresAt, randomBytes(16)) }),
      /another share/,
    ],
    [
      "a checkpoint that is not itself",
      (h: Record<string, unknown>) => ({
        ...h,
        checkpoints: [{ ...(h.checkpoints as object[])[0], checkpoint_id: "other" }],
      }),
      /does not hold itself/,
    ],
  ])("refuses %s", async (_what, change, message) => {
    const { head, sections } = await good();
    const e = await openHead(change(head), sections).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(CheckpointCorruptedError);
    expect(String((e as Error).message)).toMatch(message);
  });

  it("refuses a value that does not deserialize", async () => {
    const { head } = await good();
    await expect(openHead(head, [Buffer.from("{not json"), Buffer.from("{}")])).rejects.toThrow(
      CheckpointCorruptedError,
    );
  });
});

describe("readShared's download", () => {
  const url = `https://bucket.s3.example.com/p/shares/${shareId}/bundle?X-Amz-Signature=abc`;
  const answer =
    (
      status: number,
      body: ConstructorParameters<typeof Response>[0] = null,
      headers: Record<string, string> = {},
    ): typeof fetch =>
    async () =>
      new Response(body, { status, headers });

  it("maps HTTP answers to typed errors", async () => {
    const cases: [number, string][] = [
      [404, "not-found"],
      [403, "denied"],
      [500, "failed"],
    ];
    for (const [status, reason] of cases) {
      const e = await readShared(url, { fetch: answer(status) }).catch((err: unknown) => err);
      expect(e).toBeInstanceOf(ShareUnavailableError);
      expect(e).toMatchObject({ status, reason });
    }
    const expired = `https://h/shares/${shareIdFor(new Date(Date.now() - 1000), randomBytes(16))}/bundle`;
    await expect(readShared(expired, { fetch: answer(403) })).rejects.toMatchObject({
      reason: "expired",
      code: "SHARE_UNAVAILABLE",
    });
    const offline: typeof fetch = async () => {
      throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    };
    await expect(readShared(url, { fetch: offline })).rejects.toMatchObject({ reason: "failed" });
  });

  it("never sends the fragment, and refuses URLs that are not a share's", async () => {
    const seen: string[] = [];
    const spy: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(await sealed());
    };
    await readShared(`${url}#k=${newShareKey().toString("base64url")}`, { fetch: spy }).catch(() => undefined);
    expect(seen).toEqual([url]);
    for (const bad of [
      "nonsense",
      "ftp://h/shares/x/bundle",
      `https://h/shares/${shareId}/about`,
      "https://h/shares/nope/bundle",
    ]) {
      await expect(readShared(bad, { fetch: spy })).rejects.toThrow(InvalidArgumentError);
    }
  });

  it("stops a download once it exceeds the bound, declared or not", async () => {
    await expect(
      readShared(url, { fetch: answer(200, "x", { "content-length": String(10 ** 12) }), maxBytes: 1024 }),
    ).rejects.toThrow(CheckpointCorruptedError);
    let pulled = 0;
    const endless: typeof fetch = async () =>
      new Response(
        new ReadableStream({
          pull(controller) {
            pulled += 1;
            controller.enqueue(new Uint8Array(64 * 1024));
          },
        }),
      );
    await expect(readShared(url, { fetch: endless, maxBytes: 1024 })).rejects.toThrow(CheckpointCorruptedError);
    expect(pulled).toBeLessThan(10);
  });

  it("reads a plain bundle", async () => {
    const body = await sealed();
    const tuple = await readShared(url, { fetch: answer(200, body) });
    expect(tuple.checkpoint.id).toBe(chain()[1]!.checkpoint.id);
  });
});

describe("the documented format (README, The bundle format)", () => {
  /** A reader written from the README alone: node:crypto and fzstd, nothing of the library. */
  function readAsDocumented(body: Buffer, id: string, key?: Buffer) {
    expect(body.subarray(0, 4).toString("latin1")).toBe("LGS3");
    expect(body.readUInt8(4)).toBe(2);
    const headerEnd = 9 + body.readUInt32BE(5);
    const stored = body.subarray(0, headerEnd);
    expect(body.subarray(headerEnd, headerEnd + 32)).toEqual(createHash("sha256").update(stored).digest());
    const header = JSON.parse(stored.subarray(9).toString("utf8"));
    const binding = `shares/${id}`;
    expect(header.k).toBe(createHash("sha256").update(binding, "utf8").digest("hex"));
    let payload = body.subarray(headerEnd + 32);
    if (header.e) {
      expect(header.e).toMatchObject({ alg: "A256GCM-CHUNKED", kid: "share" });
      const iv = Buffer.from(header.e.iv, "base64url");
      const stride = Number(header.e.cs) + 16;
      const count = Math.max(1, Math.ceil(payload.length / stride));
      const out: Buffer[] = [];
      for (let i = 0; i < count; i += 1) {
        const chunk = payload.subarray(i * stride, (i + 1) * stride);
        const nonce = Buffer.from(iv);
        nonce.writeUInt32BE((nonce.readUInt32BE(8) ^ i) >>> 0, 8);
        const suffix = Buffer.alloc(5);
        suffix.writeUInt32BE(i, 0);
        suffix.writeUInt8(i === count - 1 ? 1 : 0, 4);
        const decipher = createDecipheriv("aes-256-gcm", key!, nonce);
        decipher.setAAD(Buffer.concat([stored, Buffer.from(binding, "utf8"), suffix]));
        decipher.setAuthTag(chunk.subarray(chunk.length - 16));
        out.push(decipher.update(chunk.subarray(0, chunk.length - 16)), decipher.final());
      }
      payload = Buffer.concat(out);
    }
    const plaintext = header.c === "zstd" ? Buffer.from(zstdDecompress(payload)) : payload;
    expect(plaintext.length).toBe(header.n);
    const sha = createHash("sha256").update(plaintext).digest("hex");
    const digestKey =
      key && Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), "langgraph-checkpoint-s3 digest", 32));
    expect(header.h).toBe(digestKey ? createHmac("sha256", digestKey).update(sha, "utf8").digest("hex") : sha);
    const headLength = plaintext.readUInt32BE(0);
    const head = JSON.parse(plaintext.subarray(4, 4 + headLength).toString("utf8"));
    const sections: Buffer[] = [];
    let offset = 4 + headLength;
    for (const n of head.s as number[]) {
      sections.push(plaintext.subarray(offset, offset + n));
      offset += n;
    }
    return { head, sections };
  }

  // an incompressible 2.5 MB value makes the encrypted payload three chunks of 1 MiB
  const large = () => {
    const tuples = chain();
    tuples[0]!.checkpoint.channel_values.blob = randomBytes(2_500_000).toString("base64");
    tuples[0]!.checkpoint.channel_versions.blob = 1;
    return tuples;
  };
  it.each([
    ["plain", undefined, chain],
    ["encrypted", newShareKey(), chain],
    ["large encrypted (three chunks)", newShareKey(), large],
  ])("a reader that follows it opens a %s bundle", async (_kind, key, tuples) => {
    const { head, sections } = readAsDocumented(await sealed(key, tuples()), shareId, key);
    expect(head).toMatchObject({
      kind: "share",
      fmt: 1,
      share_id: shareId,
      thread_id: "t",
      checkpoint_ns: "",
      expires_at: expiresAt.toISOString(),
    });
    const last = head.checkpoints.at(-1);
    expect(last.checkpoint_id).toBe(CHAIN[1]!.checkpoint.id);
    expect(last.parent_checkpoint_id).toBe(head.checkpoints[0].checkpoint_id);
    expect(last.checkpoint.type).toBe("json");
    expect(JSON.parse(sections[last.checkpoint.s]!.toString("utf8")).channel_values).toEqual(
      CHAIN[1]!.checkpoint.channel_values,
    );
    expect(last.writes.map((w: { task_id: string; channel: string }) => [w.task_id, w.channel])).toEqual([
      ["task-1", "notes"],
      ["task-2", "__interrupt__"],
    ]);
  });
});
