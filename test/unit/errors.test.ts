import { describe, expect, it } from "vitest";
import {
  AccessDeniedError,
  BucketNotFoundError,
  CheckpointCorruptedError,
  EndpointUnreachableError,
  S3RequestError,
  describeError,
  fromSdkError,
  isNotFound,
  isPreconditionFailed,
  isS3CheckpointerError,
  networkCodeOf,
  statusOf,
} from "../../src/errors.js";
import { isRetryable } from "../../src/resilience.js";

const sdk = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), {
    name,
    ...(status ? { $metadata: { httpStatusCode: status, requestId: "req-1" } } : {}),
    ...extra,
  });

describe("typed errors", () => {
  it("carry a code, the package name, and are recognised across copies by a brand", () => {
    const e = new CheckpointCorruptedError("bad body", { key: "k", requestId: "r" });
    expect(e.code).toBe("CHECKPOINT_CORRUPTED");
    expect(e.message).toMatch(/^langgraph-checkpoint-s3: /);
    expect(e.name).toBe("CheckpointCorruptedError");
    expect(isS3CheckpointerError(e)).toBe(true);
    expect(isS3CheckpointerError({ [Symbol.for("langgraph-checkpoint-s3/error")]: true })).toBe(true);
    expect(isS3CheckpointerError(new Error("x"))).toBe(false);
    expect(isS3CheckpointerError(null)).toBe(false);
  });
});

describe("reading SDK errors", () => {
  it("maps S3's answers to the typed errors, with the request id and the key", () => {
    const missing = fromSdkError(sdk("NoSuchBucket", 404), "GetObject", "b", "k");
    expect(missing).toBeInstanceOf(BucketNotFoundError);
    expect(missing).toMatchObject({ requestId: "req-1", key: "k" });
    expect(fromSdkError(sdk("NotFound", 404), "HeadBucket", "b")).toBeInstanceOf(BucketNotFoundError);
    expect(fromSdkError(sdk("SignatureDoesNotMatch", 403), "PutObject", "b")).toBeInstanceOf(AccessDeniedError);
    const other = fromSdkError(sdk("InternalError", 500), "PutObject", "b");
    expect(other).toBeInstanceOf(S3RequestError);
    expect(other).toMatchObject({ status: 500, s3Code: "InternalError" });
  });

  it("a connection that failed without an answer is EndpointUnreachable, found through causes", () => {
    const refused = Object.assign(new Error("connect"), { code: "ECONNREFUSED" });
    const wrapped = Object.assign(new Error("outer"), {
      name: "Error",
      cause: Object.assign(new Error("mid"), { cause: refused }),
    });
    expect(networkCodeOf(wrapped)).toBe("ECONNREFUSED");
    expect(fromSdkError(wrapped, "GetObject", "b")).toBeInstanceOf(EndpointUnreachableError);
    expect(fromSdkError(Object.assign(new Error("x"), { code: "UND_ERR_SOCKET" }), "GetObject", "b")).toBeInstanceOf(
      EndpointUnreachableError,
    );
    // an answer with a status is never "unreachable", whatever the code says
    expect(fromSdkError(sdk("SlowDown", 503, { code: "ECONNRESET" }), "GetObject", "b")).toBeInstanceOf(S3RequestError);
  });

  it("typed errors pass through unchanged", () => {
    const typed = new CheckpointCorruptedError("x");
    expect(fromSdkError(typed, "GetObject", "b")).toBe(typed);
  });

  it("status, not-found and precondition answers", () => {
    expect(statusOf(sdk("x", 412))).toBe(412);
    expect(statusOf({ $response: { statusCode: 405 } })).toBe(405);
    expect(statusOf(undefined)).toBeUndefined();
    expect(isNotFound(sdk("NoSuchKey"))).toBe(true);
    expect(isNotFound(sdk("x", 404))).toBe(true);
    expect(isPreconditionFailed(sdk("PreconditionFailed"))).toBe(true);
    expect(isPreconditionFailed(sdk("x", 409))).toBe(false);
  });

  it("the network codes that map to EndpointUnreachable are the ones retried", () => {
    for (const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "ENOTFOUND",
      "ENOTCONN",
      "UND_ERR_SOCKET",
      "EPIPE",
      "EAI_AGAIN",
    ]) {
      const e = Object.assign(new Error("x"), { code });
      expect(fromSdkError(e, "GetObject", "b"), code).toBeInstanceOf(EndpointUnreachableError);
      expect(isRetryable(e), code).toBe(true);
    }
  });

  it("log fields never carry the message or body, only name, status, request id and code", () => {
    const fields = describeError(sdk("AccessDenied", 403, { message: "secret body", code: "X" }));
    expect(fields).toEqual({ error: "AccessDenied", status: 403, requestId: "req-1", code: "X" });
    expect(describeError("plain")).toEqual({ error: "plain" });
  });
});
