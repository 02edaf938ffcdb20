/**
 * Hand-made zstd frames for the decompression-bomb tests: they are what zstd itself makes of
 * long runs of zeros, built block by block so a 1 GiB bomb costs nothing to make.
 */

import { createHash } from "node:crypto";

const MAGIC = 0xfd2fb528;
const BLOCK = 128 * 1024;

function frameHeader(descriptor: number, windowByte?: number): Buffer {
  const out = Buffer.alloc(windowByte === undefined ? 5 : 6);
  out.writeUInt32LE(MAGIC, 0);
  out[4] = descriptor;
  if (windowByte !== undefined) out[5] = windowByte;
  return out;
}

function blockHeader(last: boolean, type: number, size: number): Buffer {
  const h = (last ? 1 : 0) | (type << 1) | (size << 3);
  return Buffer.from([h & 0xff, (h >> 8) & 0xff, (h >> 16) & 0xff]);
}

/** `total` zero bytes as RLE blocks (what `node:zlib` writes for zeros): 1 GiB in 32 KiB. */
export function rleZerosFrame(total: number, windowByte = 7 << 3): Buffer {
  const parts: Buffer[] = [frameHeader(0, windowByte)];
  const blocks = Math.max(1, Math.ceil(total / BLOCK));
  for (let i = 0; i < blocks; i += 1) {
    parts.push(blockHeader(i === blocks - 1, 1, Math.min(BLOCK, total - i * BLOCK)), Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

/**
 * `blocks` × 128 KiB of zeros as compressed blocks (what zstd-codec writes for zeros: a match
 * repeating the previous offset), followed by an empty last block: about 98 KB per GiB.
 * Their decoded size cannot be read from the block headers, so only decoding finds it.
 */
export function compressedZerosFrame(blocks: number): Buffer {
  const first = Buffer.from("540000" + "1000000100fbff39c002", "hex"); // 128 KiB: a zero literal and a long match
  const next = Buffer.from("4c0000" + "08000100fcff391002", "hex"); // 128 KiB: repeat the match
  const parts: Buffer[] = [frameHeader(0, 0x50), first];
  for (let i = 1; i < blocks; i += 1) parts.push(next);
  parts.push(blockHeader(true, 0, 0));
  return Buffer.concat(parts);
}

/** A frame header that asks for a window of 2^(10 + exponent) bytes, and one empty block. */
export function hugeWindowFrame(exponent: number): Buffer {
  return Buffer.concat([frameHeader(0, exponent << 3), blockHeader(true, 0, 0)]);
}

/** A version-1 envelope (the old format: no header digest, no key binding) around `payload`. */
export function envelopeV1(payload: Uint8Array, header: object): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prelude = Buffer.alloc(9);
  prelude.write("LGS3", 0, "ascii");
  prelude[4] = 1;
  prelude.writeUInt32BE(json.length, 5);
  return Buffer.concat([prelude, json, payload]);
}

/**
 * A version-2 envelope with any header (valid digest, binding to `key` unless the header says
 * otherwise): for tests of what `open` does with a well-formed body whose header lies.
 */
export function envelopeV2(payload: Uint8Array, header: object, version = 2): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prelude = Buffer.alloc(9);
  prelude.write("LGS3", 0, "ascii");
  prelude[4] = version;
  prelude.writeUInt32BE(json.length, 5);
  const stored = Buffer.concat([prelude, json]);
  return Buffer.concat([stored, createHash("sha256").update(stored).digest(), payload]);
}

export const sha256Hex = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");
