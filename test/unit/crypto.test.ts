import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { watch } from "../helpers/watch.js";
import { open, seal } from "../../src/codec.js";
import { CHUNK_BYTES, createCipher, generateKey } from "../../src/crypto.js";
import { CheckpointCorruptedError, DecryptionFailedError, InvalidOptionError } from "../../src/errors.js";
import { kmsKeyProvider } from "../../src/kms.js";
import { fakeKms } from "../helpers/fake-kms.js";
import { resolveCompression } from "../../src/options.js";

const KEY = "prefix/threads/t/n/~/abc/c";
const zstd = resolveCompression({});
const none = resolveCompression("none");
const keyA = generateKey();
const keyB = generateKey();
const ring = (current = "a", keys: Record<string, string | Uint8Array> = { a: keyA, b: keyB }) =>
  createCipher({ keys, currentKeyId: current });

describe("client-side encryption", () => {
  it.each([0, 1, 1000, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 5])(
    "round-trips %d bytes",
    async (n) => {
      const plaintext = randomBytes(n);
      const cipher = ring();
      const sealed = await seal(plaintext, { compression: none, key: KEY, cipher });
      // the plaintext is nowhere in the body (too short a plaintext would match by chance)
      if (n >= 16) expect(sealed.body.includes(plaintext.subarray(0, 64))).toBe(false);
      const opened = await open(sealed.body, { key: KEY, cipher });
      expect(opened.plaintext.equals(plaintext)).toBe(true);
      expect(opened.header.e).toMatchObject({ alg: "A256GCM-CHUNKED", kid: "a" });
    },
  );

  it("every alteration is a DecryptionFailedError: ciphertext, tag, header, truncation, chunk order, another key", async () => {
    const cipher = ring();
    const plaintext = randomBytes(2 * CHUNK_BYTES + 100);
    const { body } = await seal(plaintext, { compression: none, key: KEY, cipher });
    const headerEnd = 9 + body.readUInt32BE(5);
    const payloadStart = headerEnd + 32;
    const flip = (at: number) => {
      const b = Buffer.from(body);
      b[at]! ^= 1;
      return b;
    };
    const cases: [string, Buffer, string?][] = [
      ["ciphertext", flip(payloadStart + 10)],
      ["tag of the last chunk", flip(body.length - 1)],
      ["header", flip(20)],
      ["header digest", flip(headerEnd + 3)],
      ["cut at a chunk boundary", body.subarray(0, payloadStart + (CHUNK_BYTES + 16) * 2)],
      ["cut inside a chunk", body.subarray(0, body.length - 40)],
      [
        "chunks swapped",
        Buffer.concat([
          body.subarray(0, payloadStart),
          body.subarray(payloadStart + CHUNK_BYTES + 16, payloadStart + 2 * (CHUNK_BYTES + 16)),
          body.subarray(payloadStart, payloadStart + CHUNK_BYTES + 16),
          body.subarray(payloadStart + 2 * (CHUNK_BYTES + 16)),
        ]),
      ],
      ["read under another key", body, "prefix/threads/other/n/~/abc/c"],
    ];
    for (const [what, altered, key] of cases) {
      await expect(open(altered, { key: key ?? KEY, cipher }), what).rejects.toThrow(DecryptionFailedError);
    }
  });

  it("a large payload is decrypted with the event loop turning between chunks", async () => {
    // 128 MiB (a state's worth of chunks): decrypted in one go it held the event loop throughout
    const cipher = ring();
    const started = await cipher.begin();
    const aad = Buffer.from("aad");
    const ciphertext = Buffer.from(await started.encrypt(Buffer.alloc(128 * 1024 * 1024, 7), aad));
    const {
      result: plain,
      ms,
      maxLagMs,
    } = await watch(async () => cipher.open(started.meta, ciphertext, aad, { inPlace: true }));
    expect(plain?.byteLength).toBe(128 * 1024 * 1024);
    expect(plain![plain!.byteLength - 1]).toBe(7);
    // relative to the time it took, whatever the machine: the loop ran many times meanwhile
    expect(maxLagMs).toBeLessThan(ms / 2);
  }, 30_000);

  it("rotation: reads pick the key by id; a missing key is named, never shown", async () => {
    const { body } = await seal(Buffer.from("state"), { compression: zstd, key: KEY, cipher: ring("a") });
    expect((await open(body, { key: KEY, cipher: ring("b") })).plaintext.toString()).toBe("state");
    const withoutA = ring("b", { b: keyB });
    const error = await open(body, { key: KEY, cipher: withoutA }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(DecryptionFailedError);
    expect(String((error as Error).message)).toContain('"a"');
    expect(String((error as Error).message)).not.toContain(keyA);
    // the same id with another key
    await expect(open(body, { key: KEY, cipher: ring("a", { a: keyB }) })).rejects.toThrow(DecryptionFailedError);
  });

  it("plaintext objects are read unless required, and the clear digest is keyed", async () => {
    const plain = await seal(Buffer.from("old state"), { compression: zstd, key: KEY });
    const seen: string[] = [];
    const reader = createCipher({ keys: { a: keyA }, currentKeyId: "a" }, (k) => seen.push(k));
    expect((await open(plain.body, { key: KEY, cipher: reader })).plaintext.toString()).toBe("old state");
    expect(seen).toEqual([KEY]);
    const strict = createCipher({ keys: { a: keyA }, currentKeyId: "a", required: true });
    await expect(open(plain.body, { key: KEY, cipher: strict })).rejects.toThrow(DecryptionFailedError);
    const enc = await seal(Buffer.from("old state"), { compression: zstd, key: KEY, cipher: reader });
    expect(enc.sha256).not.toBe(plain.sha256); // equal plaintexts are not recognisable without the key
  });

  it("an encrypted object read without any key says which key id it needs", async () => {
    const { body } = await seal(Buffer.from("x"), { compression: zstd, key: KEY, cipher: ring() });
    await expect(open(body, { key: KEY })).rejects.toThrow(/key id "a"/);
    const plainCorrupt = Buffer.from((await seal(Buffer.from("x"), { compression: zstd, key: KEY })).body);
    plainCorrupt[20]! ^= 1;
    await expect(open(plainCorrupt, { key: KEY })).rejects.toThrow(CheckpointCorruptedError);
  });

  it("keyrings are checked, and keys stay out of inspect and JSON", () => {
    expect(() => createCipher({ keys: { a: "short" }, currentKeyId: "a" })).toThrow(InvalidOptionError);
    expect(() => createCipher({ keys: { a: randomBytes(16) }, currentKeyId: "a" })).toThrow(/32 bytes/);
    expect(() => createCipher({ keys: { a: keyA }, currentKeyId: "b" })).toThrow(/currentKeyId/);
    expect(() => createCipher({ keys: { "bad id": keyA }, currentKeyId: "bad id" })).toThrow(InvalidOptionError);
    expect(() => createCipher(null as never)).toThrow(InvalidOptionError);
    const error = (() => {
      try {
        createCipher({ keys: { a: keyA.slice(0, 20) }, currentKeyId: "a" });
      } catch (e) {
        return String(e);
      }
    })();
    expect(error).not.toContain(keyA.slice(0, 20));
    const cipher = ring();
    expect(inspect(cipher, { depth: 10, showHidden: true })).not.toContain(keyA);
    expect(JSON.stringify(cipher)).not.toContain(keyA);
  });
});

describe("KMS key provider (a fake KMS client: not run against AWS)", () => {
  it("data keys come from GenerateDataKey, are reused for a while, and unwrap with Decrypt on another reader", async () => {
    const { client, calls } = fakeKms();
    const options = { client: client as never, keyId: "alias/test", encryptionContext: { app: "x" } };
    const writer = createCipher(kmsKeyProvider(options));
    const first = await seal(Buffer.from("one"), { compression: zstd, key: KEY, cipher: writer });
    const second = await seal(Buffer.from("two"), { compression: zstd, key: KEY, cipher: writer });
    expect(calls).toEqual(["GenerateDataKeyCommand"]);
    const reader = createCipher(kmsKeyProvider(options));
    expect((await open(first.body, { key: KEY, cipher: reader })).plaintext.toString()).toBe("one");
    expect((await open(second.body, { key: KEY, cipher: reader })).plaintext.toString()).toBe("two");
    expect(calls).toEqual(["GenerateDataKeyCommand", "DecryptCommand"]); // cached after the first unwrap
  });

  it("a new data key after the TTL; options checked", async () => {
    const { client, calls } = fakeKms();
    const provider = kmsKeyProvider({
      client: client as never,
      keyId: "alias/test",
      encryptionContext: { app: "x" },
      dataKeyTtlMs: 1,
    });
    const a = await provider.currentKeyId();
    await new Promise((r) => setTimeout(r, 5));
    const b = await provider.currentKeyId();
    expect(a).not.toBe(b);
    expect(calls.length).toBe(2);
    expect(() => kmsKeyProvider({ client: {} as never, keyId: "k" })).toThrow(InvalidOptionError);
    expect(() => kmsKeyProvider({ client: client as never, keyId: "" })).toThrow(InvalidOptionError);
  });

  it("every data key of one KMS key is current (re-encryption settles); a previous KMS key's are not, and still read", async () => {
    const { client } = fakeKms(["alias/test", "alias/next"]);
    const context = { encryptionContext: { app: "x" }, dataKeyTtlMs: 1 };
    const old = kmsKeyProvider({ client: client as never, keyId: "alias/test", ...context });
    const a = await old.currentKeyId();
    await new Promise((r) => setTimeout(r, 5));
    const b = await old.currentKeyId();
    expect(a).not.toBe(b);
    expect(await old.isCurrent!(a)).toBe(true);
    const rotated = kmsKeyProvider({ client: client as never, keyId: "alias/next", ...context });
    expect(await rotated.isCurrent!(a)).toBe(false);
    expect(await rotated.isCurrent!(await rotated.currentKeyId())).toBe(true);
    // objects under the previous KMS key stay readable after `keyId` changes
    const sealed = await seal(Buffer.from("kept"), { compression: zstd, key: KEY, cipher: createCipher(old) });
    expect((await open(sealed.body, { key: KEY, cipher: createCipher(rotated) })).plaintext.toString()).toBe("kept");
  });

  it("keeps at most cacheSize unwrapped keys", async () => {
    const { client, calls } = fakeKms();
    const writer = kmsKeyProvider({
      client: client as never,
      keyId: "alias/test",
      encryptionContext: { app: "x" },
      dataKeyTtlMs: 1,
    });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push(await writer.currentKeyId());
      await new Promise((r) => setTimeout(r, 3));
    }
    const reader = kmsKeyProvider({
      client: client as never,
      keyId: "alias/test",
      encryptionContext: { app: "x" },
      cacheSize: 2,
    });
    for (const id of ids) await reader.getKey(id);
    calls.length = 0;
    await reader.getKey(ids[2]!); // still cached
    expect(calls).toEqual([]);
    await reader.getKey(ids[0]!); // evicted: unwrapped again
    expect(calls).toEqual(["DecryptCommand"]);
  });
});
