/**
 * The bucket: reachable (created when asked), versioned when asked, this library's lifecycle
 * rule merged in, and what it supports probed, in one `setupBucket` call.
 */

import type { LifecycleRule, S3Client } from "@aws-sdk/client-s3";
import { InvalidOptionError, VersioningUnavailableError } from "./errors.js";
import type { BucketCapabilities, ImmutableWriter } from "./immutability.js";
import type { Logger } from "./logger.js";
import type { S3Store } from "./store.js";

/** Options of {@link S3Checkpointer.setup}. */
export interface SetupOptions {
  /** Create the bucket when it does not exist. @default false */
  createBucket?: boolean;
  /** Turn versioning on for the bucket (needed for history, soft delete and restore). @default false */
  versioning?: boolean;
  /**
   * Install (or update) this library's lifecycle rule for its prefix, merged with the bucket's
   * other rules: expire noncurrent versions, remove expired delete markers, abort incomplete
   * multipart uploads. @default not touched
   */
  lifecycle?: LifecycleOptions;
}

export interface LifecycleOptions {
  /** Noncurrent versions (older checkpoint versions, soft-deleted threads) expire after this many days. @default 30 */
  noncurrentVersionDays?: number;
  /** Incomplete multipart uploads are aborted after this many days. @default 1 */
  abortIncompleteMultipartDays?: number;
}

export interface BucketSetup {
  store: S3Store;
  once: ImmutableWriter;
  client: S3Client;
  logger: Logger;
  bucket: string;
  prefix: string;
  versioning: "auto" | "required" | "off";
  policyMaxAttempts: number;
}

/** What `setup()` does; idempotent, so safe at every start. */
export async function setupBucket(b: BucketSetup, options: SetupOptions): Promise<BucketCapabilities> {
  await b.store.ensureBucket(options.createBucket ?? false);
  if (options.versioning && b.versioning !== "off" && (await b.store.getVersioning()) !== "Enabled") {
    await b.store.enableVersioning();
  }
  if (options.lifecycle) {
    const { rules, changed } = mergeLifecycleRules(await b.store.getLifecycleRules(), b.prefix, options.lifecycle);
    if (changed) await b.store.putLifecycleRules(rules);
  }
  b.once.forgetCapabilities();
  const caps = await b.once.probe();
  const clientAttempts = await Promise.resolve(b.client.config.maxAttempts?.()).catch(() => undefined);
  if (typeof clientAttempts === "number" && clientAttempts > 1 && b.policyMaxAttempts > 1) {
    b.logger.warn(
      { clientMaxAttempts: clientAttempts, policyMaxAttempts: b.policyMaxAttempts },
      "the S3 client retries by itself too, so attempts multiply; create it with maxAttempts: 1",
    );
  }
  if (b.versioning === "required" && caps.versioning !== "Enabled") {
    throw new VersioningUnavailableError(
      `bucket "${b.bucket}" has no versioning and option \`versioning\` is "required"; call setup({ versioning: true }) or enable it on the bucket`,
    );
  }
  b.logger.info({ bucket: b.bucket, prefix: b.prefix, ...caps }, `checkpoint immutability by ${caps.immutability}`);
  return caps;
}

/** The id of the lifecycle rule of a prefix, so other rules of the bucket are left alone. */
export function lifecycleRuleId(prefix: string): string {
  return `langgraph-checkpoint-s3:${prefix || "(bucket)"}`.slice(0, 255);
}

/**
 * Days after which a share's bundle expires by the lifecycle rule of shares: a presigned URL
 * lives at most 7 days (SigV4), and S3 runs lifecycle rules about once a day (rounding to the
 * next midnight UTC), so one more day keeps every bundle until its URL has expired.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-expire-general-considerations.html
 */
export const SHARE_EXPIRATION_DAYS = 8;

/** The id of the lifecycle rule of a prefix's shares. */
export function shareLifecycleRuleId(prefix: string): string {
  return `langgraph-checkpoint-s3:${prefix}shares/`.slice(0, 255);
}

/**
 * Merges this library's lifecycle rules (for its prefix, and for its shares) into the bucket's
 * rules: rules of other ids stay as they are, ours are replaced. Returns the merged rules and
 * whether they changed.
 */
export function mergeLifecycleRules(
  existing: LifecycleRule[],
  prefix: string,
  options: LifecycleOptions,
): { rules: LifecycleRule[]; changed: boolean } {
  const noncurrent = options.noncurrentVersionDays ?? 30;
  const abortDays = options.abortIncompleteMultipartDays ?? 1;
  for (const [name, value] of [
    ["lifecycle.noncurrentVersionDays", noncurrent],
    ["lifecycle.abortIncompleteMultipartDays", abortDays],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new InvalidOptionError(`option \`${name}\` must be a whole number of days, at least 1; got ${value}`);
  }
  const id = lifecycleRuleId(prefix);
  const ours: LifecycleRule = {
    ID: id,
    Status: "Enabled",
    Filter: { Prefix: prefix },
    // older versions of checkpoints (and the versions behind a soft delete) are kept this long
    NoncurrentVersionExpiration: { NoncurrentDays: noncurrent },
    // a delete marker with no versions left behind it is removed
    Expiration: { ExpiredObjectDeleteMarker: true },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: abortDays },
  };
  // shares (share.ts) expire with their URLs: the bundle becomes a delete marker on a versioned
  // bucket, and the version behind it goes a day later
  const sharesId = shareLifecycleRuleId(prefix);
  const shares: LifecycleRule = {
    ID: sharesId,
    Status: "Enabled",
    Filter: { Prefix: `${prefix}shares/` },
    Expiration: { Days: SHARE_EXPIRATION_DAYS },
    NoncurrentVersionExpiration: { NoncurrentDays: 1 },
  };
  const ourRules = [ours, shares];
  const others = existing.filter((r) => r.ID !== id && r.ID !== sharesId);
  const changed = ourRules.some((rule) => {
    const previous = existing.find((r) => r.ID === rule.ID);
    return !previous || JSON.stringify(normalizeRule(previous)) !== JSON.stringify(normalizeRule(rule));
  });
  return { rules: [...others, ...ourRules], changed };
}

function normalizeRule(rule: LifecycleRule) {
  return {
    status: rule.Status,
    prefix: rule.Filter?.Prefix ?? rule.Prefix ?? "",
    noncurrent: rule.NoncurrentVersionExpiration?.NoncurrentDays,
    marker: rule.Expiration?.ExpiredObjectDeleteMarker ?? false,
    days: rule.Expiration?.Days,
    abort: rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
  };
}
