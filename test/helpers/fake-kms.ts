/**
 * A stand-in for AWS KMS with named master keys, for the KMS key provider's tests (not AWS): it
 * wraps data keys so that Decrypt finds their master key in the blob, and names the master key
 * (`KeyId`) in its answers, as KMS does.
 */
import { randomBytes } from "node:crypto";
import { expect } from "vitest";

export function fakeKms(masterKeys: string[] = ["alias/test"]) {
  const masters = new Map(
    masterKeys.map((name, i) => [name, { arn: `arn:aws:kms:test:key/${i}`, key: randomBytes(32) }]),
  );
  const calls: string[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      calls.push(command.constructor.name);
      if (command.constructor.name === "GenerateDataKeyCommand") {
        const master = masters.get(command.input.KeyId as string)!;
        expect(command.input).toMatchObject({ KeySpec: "AES_256", EncryptionContext: { app: "x" } });
        const key = randomBytes(32);
        const blob = Buffer.concat([Buffer.from(master.arn.padEnd(32, " ")), key.map((b, i) => b ^ master.key[i]!)]);
        return { Plaintext: new Uint8Array(key), CiphertextBlob: new Uint8Array(blob), KeyId: master.arn };
      }
      if (command.constructor.name === "DecryptCommand") {
        const blob = Buffer.from(command.input.CiphertextBlob as Uint8Array);
        const arn = blob.subarray(0, 32).toString().trim();
        const master = [...masters.values()].find((m) => m.arn === arn)!;
        return { Plaintext: new Uint8Array(blob.subarray(32).map((b, i) => b ^ master.key[i]!)), KeyId: arn };
      }
      throw new Error(`unexpected ${command.constructor.name}`);
    },
  };
  return { client, calls };
}
