import { createHash, createHmac, randomBytes } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_OBJECT_BYTES,
  ENVELOPE_VERSION,
  MAX_HEADER_BYTES,
  jsZstdDecompress,
  maxEnvelopeBytes,
  open,
  rebind,
  seal,
  wasmZstdCompress,
  zstdCompress,
  zstdDecompress,
  zstdImplementation,
  type EncryptionMeta,
  type EnvelopeCipher,
} from "../../src/codec.js";
import {
  CheckpointCorruptedError,
  DecryptionFailedError,
  InvalidArgumentError,
  InvalidOptionError,
  isS3CheckpointerError,
} from "../../src/errors.js";
import { resolveCompression } from "../../src/options.js";
import { pack, unpack } from "../../src/record.js";
import { envelopeV1, envelopeV2, sha256Hex } from "../helpers/zstd-frames.js";

/** Compressible but not trivial: JSON-ish text with random ids, like agent state. */
function stateLike(bytes: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const s = `{"role":"assistant","id":"${randomBytes(6).toString("hex")}","content":"step ${size} of the plan"},`;
    parts.push(s);
    size += s.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

const KEY = "prod/threads/t1/n/~/zyx~/c";
const OTHER_KEY = "prod/threads/intruder/n/~/zyx~/c";
const zstd = resolveCompression({});
const none = resolveCompression({ codec: "none" });

/** Resolves to the error `promise` rejects with; fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

const sizes: [string, number][] = [
  ["0 B", 0],
  ["1 B", 1],
  ["1 MB", 1024 * 1024],
  ["64 MB", 64 * 1024 * 1024],
];

describe.each(["zstd", "none"] as const)("envelope with codec %s", (codec) => {
  const compression = resolveCompression({ codec });
  it.each(sizes)(
    "round-trips %s",
    async (_label, bytes) => {
      const plaintext = stateLike(bytes);
      const sealed = await seal(plaintext, { compression, key: KEY, type: "json" });
      const opened = await open(sealed.body, { key: KEY });
      expect(opened.header).toMatchObject({ c: codec, n: bytes, t: "json", k: sha256Hex(KEY) });
      expect(opened).toMatchObject({ version: ENVELOPE_VERSION, keyBound: true });
      expect(opened.plaintext.equals(plaintext)).toBe(true);
      if (codec === "zstd" && bytes >= 1024 * 1024) expect(sealed.body.length).toBeLessThan(bytes / 2);
    },
    120_000,
  );

  it("seals a plaintext given in parts exactly as the whole", async () => {
    const whole = stateLike(3 * 1024 * 1024 + 17);
    const parts = [
      whole.subarray(0, 5),
      whole.subarray(5, 2 * 1024 * 1024),
      Buffer.alloc(0),
      whole.subarray(2 * 1024 * 1024),
    ];
    const sealed = await seal(parts, { compression, key: KEY });
    expect(sealed.sha256).toBe(createHash("sha256").update(whole).digest("hex"));
    expect(sealed.plaintextBytes).toBe(whole.length);
    expect((await open(sealed.body, { key: KEY })).plaintext.equals(whole)).toBe(true);
  }, 60_000);
});

describe("envelope integrity", () => {
  it("detects a flipped payload byte, a truncated body and foreign bytes", async () => {
    const sealed = await seal(stateLike(10_000), { compression: none, key: KEY });
    const flipped = Buffer.from(sealed.body);
    flipped[flipped.length - 10]! ^= 0xff;
    await expect(open(flipped, { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
    await expect(open(sealed.body.subarray(0, sealed.body.length - 1), { key: KEY })).rejects.toThrow(
      CheckpointCorruptedError,
    );
    await expect(open(Buffer.from("not an envelope"), { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
    const zs = await seal(stateLike(10_000), { compression: zstd, key: KEY });
    const bad = Buffer.from(zs.body);
    bad[bad.length - 20]! ^= 0x55;
    await expect(open(bad, { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
  });

  it("detects a flipped bit anywhere in the header or its digest", async () => {
    const sealed = await seal(Buffer.from("hello"), { compression: none, key: KEY, type: "json" });
    const headerEnd = 9 + sealed.body.readUInt32BE(5) + 32;
    for (let i = 0; i < headerEnd; i += 1) {
      for (const bit of [0x01, 0x80]) {
        const body = Buffer.from(sealed.body);
        body[i]! ^= bit;
        const error = await rejection(open(body, { key: KEY }));
        expect(error).toBeInstanceOf(CheckpointCorruptedError);
      }
    }
  });

  it("turns any damage into a typed error, never a TypeError, SyntaxError or RangeError", async () => {
    const sealed = await seal(stateLike(2000), { compression: zstd, key: KEY, type: "json" });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        async (flips, cut) => {
          const body = Buffer.from(
            sealed.body.subarray(0, sealed.body.length - (cut % 3 === 0 ? cut % sealed.body.length : 0)),
          );
          for (const [at, mask] of flips) body[at % body.length]! ^= mask;
          const error = await rejection(open(body, { key: KEY })).catch(() => undefined);
          // a flip that restores itself (two equal flips) leaves a valid body
          if (error) expect(isS3CheckpointerError(error)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("validates every header field, whatever JSON the header holds", async () => {
    const payload = Buffer.from("hello");
    const good = { c: "none", n: 5, h: sha256Hex(payload), k: sha256Hex(KEY) };
    const bad: unknown[] = [
      null,
      [],
      "header",
      42,
      { ...good, c: "gzip" },
      { ...good, c: undefined },
      { ...good, n: -1 },
      { ...good, n: 1.5 },
      { ...good, n: "5" },
      { ...good, n: 2 ** 60 },
      { ...good, h: "zz" },
      { ...good, h: sha256Hex(payload).toUpperCase() },
      { ...good, k: undefined },
      { ...good, k: 7 },
      { ...good, t: 7 },
      { ...good, t: null },
      { ...good, e: "aes" },
      { ...good, e: { alg: "A256GCM" } },
      { ...good, e: { alg: "A256GCM", kid: "k1", iv: 12 } },
      { ...good, e: [] },
    ];
    for (const header of bad) {
      const error = await rejection(open(envelopeV2(payload, header as object), { key: KEY }));
      expect(error, JSON.stringify(header)).toBeInstanceOf(CheckpointCorruptedError);
    }
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (header) => {
        const body = envelopeV2(payload, header as object);
        const error = await rejection(open(body, { key: KEY }));
        expect(isS3CheckpointerError(error)).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect((await open(envelopeV2(payload, good), { key: KEY })).plaintext.toString()).toBe("hello");
  });

  it("refuses a header that is not UTF-8 JSON, or too long to parse", async () => {
    const prelude = (length: number) => {
      const p = Buffer.alloc(9);
      p.write("LGS3", 0, "ascii");
      p[4] = 2;
      p.writeUInt32BE(length, 5);
      return p;
    };
    const stored = Buffer.concat([prelude(3), Buffer.from([0x7b, 0xff, 0x7d])]);
    const body = Buffer.concat([stored, createHash("sha256").update(stored).digest()]);
    await expect(open(body, { key: KEY })).rejects.toThrow(/not JSON/);
    await expect(open(Buffer.concat([prelude(MAX_HEADER_BYTES + 1), Buffer.alloc(100)]), { key: KEY })).rejects.toThrow(
      /header of/,
    );
    await expect(open(Buffer.concat([prelude(0xffffffff)]), { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
  });
});

describe("envelope versions", () => {
  // written by version 0.1.0 of this library (envelope format 1): they must stay readable
  const v1Zstd = Buffer.from(
    "TEdTMwEAAABleyJjIjoienN0ZCIsIm4iOjM0LCJoIjoiZDFkNGRkODhhOTY4ZWE4Yzk5NjM4NzUxYjAxNTU0MmMy" +
      "NDNiNjgzOWJjMjUzMGM2Nzg2MTk1ZWZkMmM1MGYzOC" +
      "IsInQiOiJqc29uIn0otS/9AFARAQB7InYiOiJzdGF0ZSB3cml0dGVuIGJ5IHZlcnNpb24gMSJ9",
    "base64",
  );
  const v1None = Buffer.from(
    "TEdTMwEAAABZeyJjIjoibm9uZSIsIm4iOjUsImgiOiJhMTE2YzllZDQ2ZDYyMDc3MzRhNDMzMTdkMzBmZDg4ZjUy" +
      "YWM4NjM0YzM3ZDkwNGJiZjRlNDFkODY1ZjkwNDc1In1wbGFpbg==",
    "base64",
  );

  it("reads version-1 bodies, and says they are not bound to a key", async () => {
    const a = await open(v1Zstd, { key: KEY });
    expect(a).toMatchObject({ version: 1, keyBound: false, header: { c: "zstd", n: 34, t: "json" } });
    expect(a.plaintext.toString()).toBe('{"v":"state written by version 1"}');
    // no binding: a version-1 body opens under any key; the caller checks its content
    const b = await open(v1None, { key: OTHER_KEY });
    expect(b).toMatchObject({ version: 1, keyBound: false });
    expect(b.plaintext.toString()).toBe("plain");
  });

  it("writes version 2", async () => {
    const sealed = await seal(Buffer.from("x"), { compression: zstd, key: KEY });
    expect(ENVELOPE_VERSION).toBe(2);
    expect(sealed.body[4]).toBe(2);
  });

  it("says 'upgrade' only for versions newer than this library, never for version 0", async () => {
    const header = { c: "none", n: 5, h: sha256Hex("hello"), k: sha256Hex(KEY) };
    const v0 = await rejection(open(envelopeV2(Buffer.from("hello"), header, 0), { key: KEY }));
    expect(v0).toBeInstanceOf(CheckpointCorruptedError);
    expect(v0.message).not.toMatch(/newer|upgrade/);
    expect(v0.message).toMatch(/never written/);
    const v3 = await rejection(open(envelopeV2(Buffer.from("hello"), header, 3), { key: KEY }));
    expect(v3).toBeInstanceOf(CheckpointCorruptedError);
    expect(v3.message).toMatch(/newer than this library reads; upgrade/);
  });

  it("refuses encryption metadata in a version-1 header", async () => {
    const body = envelopeV1(Buffer.from("hello"), {
      c: "none",
      n: 5,
      h: sha256Hex("hello"),
      e: { alg: "x", kid: "y" },
    });
    await expect(open(body, { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
  });
});

describe("key binding", () => {
  it("refuses a body found under another key than it was sealed for, naming the key", async () => {
    const sealed = await seal(Buffer.from('{"thread":"victim"}'), { compression: zstd, key: KEY });
    const error = await rejection(open(sealed.body, { key: OTHER_KEY }));
    expect(error).toBeInstanceOf(CheckpointCorruptedError);
    expect(error.message).toContain(OTHER_KEY);
    expect(error.message).toMatch(/sealed for another key/);
    expect((error as CheckpointCorruptedError).key).toBe(OTHER_KEY);
  });

  it("rebinds a body to a new key without decompressing, and only from its own key", async () => {
    const plaintext = stateLike(50_000);
    const sealed = await seal(plaintext, { compression: zstd, key: KEY, type: "json" });
    const moved = await rebind(sealed.body, { from: KEY, to: OTHER_KEY });
    expect(moved.sha256).toBe(sealed.sha256);
    const opened = await open(moved.body, { key: OTHER_KEY });
    expect(opened.plaintext.equals(plaintext)).toBe(true);
    expect(opened.header.t).toBe("json");
    await expect(open(moved.body, { key: KEY })).rejects.toThrow(/another key/);
    await expect(rebind(sealed.body, { from: OTHER_KEY, to: "x" })).rejects.toThrow(CheckpointCorruptedError);
  });

  it("upgrades a version-1 body to a bound version-2 body when it is rebound", async () => {
    const body = envelopeV1(Buffer.from("hello"), { c: "none", n: 5, h: sha256Hex("hello") });
    const moved = await rebind(body, { from: KEY, to: OTHER_KEY });
    expect(await open(moved.body, { key: OTHER_KEY })).toMatchObject({ version: 2, keyBound: true });
    await expect(open(moved.body, { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
  });
});

/**
 * A stand-in cipher for the encryption seam (not encryption): the payload XORed with a keyed
 * stream and an HMAC over AAD and ciphertext, so the plumbing of `meta`, AAD and errors is tested.
 */
function testCipher(secret: string): EnvelopeCipher & { opened: number } {
  const stream = (n: number, nonce: string) => {
    const out = Buffer.alloc(n);
    for (let block = 0; block * 32 < n; block += 1)
      createHmac("sha256", secret)
        .update(`${nonce}:${block}`)
        .digest()
        .copy(out, block * 32);
    return out;
  };
  const xor = (data: Uint8Array, nonce: string) => {
    const s = stream(data.byteLength, nonce);
    return Buffer.from(data.map((b, i) => b ^ s[i]!));
  };
  const tag = (aad: Uint8Array, ct: Uint8Array) => createHmac("sha256", secret).update(aad).update(ct).digest();
  const cipher = {
    opened: 0,
    begin() {
      const nonce = randomBytes(12).toString("base64");
      const meta: EncryptionMeta = { alg: "test-xor-hmac", kid: "k1", iv: nonce };
      return {
        meta,
        encrypt: (payload: Uint8Array, aad: Uint8Array) =>
          Buffer.concat([xor(payload, nonce), tag(aad, xor(payload, nonce))]),
      };
    },
    open(meta: EncryptionMeta, ciphertext: Uint8Array, aad: Uint8Array) {
      cipher.opened += 1;
      const ct = ciphertext.subarray(0, ciphertext.byteLength - 32);
      if (!tag(aad, ct).equals(ciphertext.subarray(ciphertext.byteLength - 32))) throw new Error("tag mismatch");
      return xor(ct, meta.iv!);
    },
    digest: (_meta: EncryptionMeta, sha256: string) => sha256,
  };
  return cipher;
}

describe("encryption seam", () => {
  it("passes the payload through a cipher, with the header and the key as authenticated data", async () => {
    const cipher = testCipher("s3cret");
    const plaintext = stateLike(20_000);
    const sealed = await seal(plaintext, { compression: zstd, key: KEY, cipher });
    const opened = await open(sealed.body, { key: KEY, cipher });
    expect(opened.plaintext.equals(plaintext)).toBe(true);
    expect(opened.header.e).toMatchObject({ alg: "test-xor-hmac", kid: "k1" });
    expect(cipher.opened).toBe(1);
    // no cipher configured: a typed error naming the key id
    await expect(open(sealed.body, { key: KEY })).rejects.toThrow(DecryptionFailedError);
    await expect(open(sealed.body, { key: KEY })).rejects.toThrow(/"k1"/);
    // the wrong secret: the cipher's own error comes out typed
    await expect(open(sealed.body, { key: KEY, cipher: testCipher("other") })).rejects.toThrow(DecryptionFailedError);
    // rebinding re-encrypts under the new key's AAD
    const moved = await rebind(sealed.body, { from: KEY, to: OTHER_KEY, cipher });
    expect((await open(moved.body, { key: OTHER_KEY, cipher })).plaintext.equals(plaintext)).toBe(true);
    await expect(rebind(sealed.body, { from: KEY, to: OTHER_KEY })).rejects.toThrow(DecryptionFailedError);
  });
});

describe("limits", () => {
  it("exports a default bound and the longest body it lets through", () => {
    expect(DEFAULT_MAX_OBJECT_BYTES).toBe(256 * 1024 * 1024);
    expect(maxEnvelopeBytes(1000)).toBeGreaterThan(1000);
    expect(maxEnvelopeBytes(1000)).toBeLessThan(1000 + MAX_HEADER_BYTES + 4096);
  });

  it("refuses to seal more than maxBytes, and to open a body declaring more", async () => {
    const plaintext = Buffer.alloc(2000, 1);
    await expect(seal(plaintext, { compression: zstd, key: KEY, maxBytes: 1999 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(seal(plaintext, { compression: zstd, key: KEY, maxBytes: 1999 })).rejects.toThrow(/maxObjectBytes/);
    const sealed = await seal(plaintext, { compression: zstd, key: KEY, maxBytes: 2000 });
    expect((await open(sealed.body, { key: KEY, maxBytes: 2000 })).plaintext.equals(plaintext)).toBe(true);
    const error = await rejection(open(sealed.body, { key: KEY, maxBytes: 1999 }));
    expect(error).toBeInstanceOf(CheckpointCorruptedError);
    expect(error.message).toMatch(/declares 2000 bytes, more than maxObjectBytes \(1999\)/);
  });

  it("refuses a body longer than any object within the bound, before reading its header", async () => {
    const body = Buffer.concat([
      envelopeV2(Buffer.alloc(0), { c: "none", n: 0, h: sha256Hex(""), k: sha256Hex(KEY) }),
      Buffer.alloc(70_000),
    ]);
    await expect(open(body, { key: KEY, maxBytes: 1000 })).rejects.toThrow(/more than an object within maxObjectBytes/);
  });

  it("refuses a payload longer than its declared content can compress to", async () => {
    const sealed = await seal(randomBytes(5000), { compression: zstd, key: KEY });
    const opened = await open(sealed.body, { key: KEY });
    const header = { ...opened.header, n: 100, h: sha256Hex("x") };
    const payload = sealed.body.subarray(9 + sealed.body.readUInt32BE(5) + 32);
    await expect(open(envelopeV2(payload, header), { key: KEY })).rejects.toThrow(/payload of \d+ bytes is longer/);
  });

  it("refuses an uncompressed payload whose length is not the declared one", async () => {
    const header = { c: "none", n: 4, h: sha256Hex("hell"), k: sha256Hex(KEY) };
    await expect(open(envelopeV2(Buffer.from("hello"), header), { key: KEY })).rejects.toThrow(
      /holds 5 bytes, not the 4/,
    );
  });
});

describe("compression options", () => {
  it("validates compression options with the option's name", () => {
    expect(() => resolveCompression({ level: 0 })).toThrow(InvalidOptionError);
    expect(() => resolveCompression({ level: 22 })).toThrow(/compression.level/);
    expect(() => resolveCompression({ codec: "gzip" as never })).toThrow(/compression.codec/);
  });

  it("reads an older default: a body written without compression stays readable", async () => {
    const plain = await seal(Buffer.from("hello"), { compression: none, key: KEY });
    expect((await open(plain.body, { key: KEY })).header.c).toBe("none");
    expect((await open(plain.body, { key: KEY })).plaintext.toString()).toBe("hello");
  });
});

describe(`zstd implementations (this Node: ${zstdImplementation})`, () => {
  it("zstd-codec's chunked path handles inputs its one-shot API aborts on", async () => {
    const input = stateLike(24 * 1024 * 1024);
    const compressed = await wasmZstdCompress(input, 3);
    expect((await jsZstdDecompress(compressed, input.length)).equals(input)).toBe(true);
  }, 120_000);

  it("frames of each compressor are read by each decoder", async () => {
    const input = stateLike(3 * 1024 * 1024);
    // levels above 9 run at 9 on the WebAssembly fallback (its heap cannot hold them)
    for (const level of [1, 3, 9, 19]) {
      for (const frame of [await zstdCompress(input, level), await wasmZstdCompress(input, level)]) {
        expect((await jsZstdDecompress(frame, input.length)).equals(input)).toBe(true);
        expect((await zstdDecompress(frame, input.length)).equals(input)).toBe(true);
      }
    }
  }, 120_000);

  it("zstd-codec's one-shot path (small inputs, in parts or whole) and chunked path meet at 1 MiB", async () => {
    for (const size of [0, 1, 3000, 1024 * 1024, 1024 * 1024 + 1]) {
      const input = stateLike(size);
      const half = Math.floor(size / 2);
      for (const given of [input, [input.subarray(0, half), input.subarray(half)]]) {
        const frame = await wasmZstdCompress(given, 3);
        expect((await jsZstdDecompress(frame, size)).equals(input)).toBe(true);
        expect((await zstdDecompress(frame, size)).equals(input)).toBe(true);
      }
    }
  }, 120_000);

  it("decoders refuse a frame that holds fewer or more bytes than expected", async () => {
    const input = stateLike(300_000);
    const frame = await zstdCompress(input, 3);
    for (const decode of [jsZstdDecompress, zstdDecompress]) {
      await expect(decode(frame, input.length + 1)).rejects.toThrow();
      await expect(decode(frame, input.length - 1)).rejects.toThrow();
      await expect(decode(Buffer.alloc(0), 0)).rejects.toThrow(/empty/);
    }
  });
});

describe("payload frames", () => {
  it("round-trips a head with binary sections", () => {
    const sections = [Buffer.from("a"), Buffer.alloc(0), randomBytes(1000)];
    const ids = { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c", task_id: "k", task_path: "" };
    const writes = sections.map((_, i) => ({ idx: i, channel: `c${i}`, type: "bytes", s: i }));
    const framed = pack({ kind: "writes", x: 1, ...ids, writes }, sections);
    const { head, sections: out } = unpack<{ kind: "writes"; x: number }>(framed, "writes");
    expect(head.x).toBe(1);
    expect(out.map((s) => s.toString("hex"))).toEqual(sections.map((s) => s.toString("hex")));
    expect(() => unpack(framed, "checkpoint")).toThrow(CheckpointCorruptedError);
    expect(() => unpack(framed.subarray(0, framed.length - 1), "writes")).toThrow(CheckpointCorruptedError);
  });
});
