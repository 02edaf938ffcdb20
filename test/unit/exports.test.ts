/** The public surface: what a user imports. A name added or dropped here is a decision, not an accident. */
import { describe, expect, it } from "vitest";
import * as api from "../../src/index.js";

describe("public exports", () => {
  it("are the class, createClient, the defaults, the metric names, the logger, the key helpers, the share readers and the errors", () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        "AccessDeniedError",
        "BucketNotFoundError",
        "CheckpointConflict",
        "CheckpointConflictError",
        "CheckpointCorrupted",
        "CheckpointCorruptedError",
        "CheckpointNotFound",
        "CheckpointNotFoundError",
        "CircuitOpen",
        "CircuitOpenError",
        "DEFAULTS",
        "DecryptionFailed",
        "DecryptionFailedError",
        "EndpointUnreachableError",
        "InvalidArgumentError",
        "InvalidOptionError",
        "MAX_SHARE_EXPIRES_IN",
        "METRIC",
        "PurgeIncompleteError",
        "S3Checkpointer",
        "S3CheckpointerError",
        "S3RequestError",
        "ShareUnavailableError",
        "VersioningUnavailable",
        "VersioningUnavailableError",
        "createClient",
        "generateKey",
        "importShared",
        "kmsKeyProvider",
        "migrate",
        "readShared",
        "isS3CheckpointerError",
        "silentLogger",
        "zstdImplementation",
      ].sort(),
    );
  });

  it("the short error names are the same classes", () => {
    expect(api.CheckpointNotFound).toBe(api.CheckpointNotFoundError);
    expect(api.CircuitOpen).toBe(api.CircuitOpenError);
  });

  it("the defaults cannot be changed by a caller", () => {
    expect(Object.isFrozen(api.DEFAULTS)).toBe(true);
    expect(Object.isFrozen(api.DEFAULTS.resilience)).toBe(true);
  });
});
