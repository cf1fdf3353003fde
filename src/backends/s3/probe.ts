/**
 * Checks, once per process for each endpoint and bucket, that the store really enforces the conditional writes
 * opencrate relies on. Some S3-compatible stores (s3rver, old MinIO releases, some gateways) accept
 * If-None-Match / If-Match and ignore them, which would let two runs claim the same snapshot version. Such a
 * store is refused with NotSupportedError instead of being trusted.
 *
 * Each feature is probed on first need, on a throw-away key `<prefix>/.opencrate/probe/<uuid>`, deleted after:
 * - "put": PutObject create-only twice (the second must fail with 412) and If-Match with a wrong ETag (412). The
 *   first write carries a writer token, so that a lost answer (the SDK's retry then meets our own object: 412) is
 *   told apart from a store that refuses new keys.
 * - "multipart-create" / "multipart-replace": CompleteMultipartUpload with If-None-Match on an existing key, or
 *   If-Match with a wrong ETag, must fail with 412 (moto, for one, ignores If-Match there).
 * - "delete": DeleteObject with If-Match and a wrong ETag must fail with 412 and leave the object (MinIO, for one,
 *   answers 204 and deletes it).
 */
import { randomUUID } from "node:crypto";
import { NotSupportedError, isOpenCrateError } from "../../errors.ts";
import type { S3Connection } from "./client.ts";
import { newWriterToken } from "../conditional-write.ts";
import { expectAnswer } from "./answer-check.ts";
import { runConditionalWrite } from "./conditional.ts";
import type { RetryPolicy } from "../retry-policy.ts";
import { type S3ErrorContext, errorName, httpStatus, isPreconditionFailed, mapS3Error } from "./errors.ts";
import { WRITER_TOKEN_KEY, writerTokenOf } from "./object-info.ts";

/** 400 error codes that refuse the request's form (here: If-Match on DeleteObject), not who sent it or when. */
const REQUEST_REFUSED = new Set(["InvalidArgument", "InvalidRequest", "NotImplemented"]);

export type ProbedFeature = "put" | "multipart-create" | "multipart-replace" | "delete";

export interface ProbeTarget {
  readonly connection: S3Connection;
  readonly bucket: string;
  /** Identifies the store: the endpoint URL, or AWS and the region. */
  readonly storeId: string;
  /** The S3 key to probe with (under the backend's prefix). */
  readonly probeKey: string;
  /** For messages. */
  readonly context: Omit<S3ErrorContext, "action">;
  readonly retry: RetryPolicy;
  readonly signal?: AbortSignal | undefined;
}

const verdicts = new Map<string, Promise<void>>();

/** Resolves when `feature` is enforced by the store; NotSupportedError (cached for the process) when it is not. */
export function ensureEnforced(feature: ProbedFeature, target: ProbeTarget): Promise<void> {
  const cacheKey = `${feature}|${target.storeId}|${target.bucket}`;
  let verdict = verdicts.get(cacheKey);
  if (verdict === undefined) {
    verdict = probe(feature, target).catch((error: unknown) => {
      // Only a verdict is remembered; a probe that could not run (network, permissions) runs again next time.
      if (!isOpenCrateError(error, "NOT_SUPPORTED")) verdicts.delete(cacheKey);
      throw error;
    });
    verdicts.set(cacheKey, verdict);
  }
  return verdict;
}

/** Forgets every verdict (for tests that start a fresh store on a reused port). */
export function forgetProbeVerdicts(): void {
  verdicts.clear();
}

async function probe(feature: ProbedFeature, target: ProbeTarget): Promise<void> {
  const key = target.probeKey;
  const { client, sdk } = target.connection;
  const send = { abortSignal: target.signal };
  const context: S3ErrorContext = { ...target.context, action: "check conditional writes at" };
  const put = (extra: { IfNoneMatch?: string; IfMatch?: string; Metadata?: Record<string, string> }) => {
    const command = new sdk.PutObjectCommand({ Bucket: target.bucket, Key: key, Body: Buffer.from(randomUUID()), ...extra });
    // A stored object always has an ETag: a 200 without one came from something else (an HTML page, a proxy).
    return client.send(expectAnswer(command, "etag"), send);
  };
  try {
    if (feature === "put") {
      // The key is fresh, so a 412 here after an SDK retry means our own first attempt landed and its answer was
      // lost: runConditionalWrite settles that by the writer token, and a failed read-back is TRANSIENT (not cached).
      const token = newWriterToken();
      try {
        await runConditionalWrite({
          write: () => put({ IfNoneMatch: "*", Metadata: { [WRITER_TOKEN_KEY]: token } }),
          readBackIfOurs: async () => {
            const head = await client.send(expectAnswer(new sdk.HeadObjectCommand({ Bucket: target.bucket, Key: key }), "object"), send);
            return writerTokenOf(head.Metadata) === token ? head : undefined;
          },
          replayable: true,
          retry: target.retry,
          signal: target.signal,
        });
      } catch (error) {
        if (isPreconditionFailed(error)) throw refuse(target, "rejects create-only writes (If-None-Match: *) of new keys", feature);
        throw mapS3Error(error, context);
      }
      await expectRejected(() => put({ IfNoneMatch: "*" }), target, context, "ignores If-None-Match on PutObject", feature);
      await expectRejected(() => put({ IfMatch: WRONG_ETAG }), target, context, "ignores If-Match on PutObject", feature);
    } else if (feature === "delete") {
      try {
        await put({});
      } catch (error) {
        throw mapS3Error(error, context);
      }
      const deleteIfMatch = async (): Promise<unknown> => {
        try {
          return await client.send(new sdk.DeleteObjectCommand({ Bucket: target.bucket, Key: key, IfMatch: WRONG_ETAG }), send);
        } catch (error) {
          // A store that does not take the header at all (501, or a 400 naming the request rather than the caller's
          // credentials or clock) is one without conditional deletes, not a failure. The verdict is kept for the process.
          const status = httpStatus(error);
          const name = errorName(error);
          if (!isPreconditionFailed(error) && (status === 501 || name === "NotImplemented" || (status === 400 && REQUEST_REFUSED.has(name)))) {
            throw refuse(target, `answers ${String(status)} ${name} to If-Match on DeleteObject`, feature);
          }
          throw error;
        }
      };
      await expectRejected(deleteIfMatch, target, context, "ignores If-Match on DeleteObject", feature);
      try {
        await client.send(expectAnswer(new sdk.HeadObjectCommand({ Bucket: target.bucket, Key: key }), "object"), send);
      } catch (error) {
        // Refused with 412 and deleted all the same.
        if (isOpenCrateError(mapS3Error(error, context), "NOT_FOUND")) throw refuse(target, "deletes the object on a failed If-Match", feature);
        throw mapS3Error(error, context);
      }
    } else {
      try {
        await put({});
      } catch (error) {
        throw mapS3Error(error, context);
      }
      const condition = feature === "multipart-create" ? { IfNoneMatch: "*" } : { IfMatch: WRONG_ETAG };
      const header = feature === "multipart-create" ? "If-None-Match" : "If-Match";
      await expectRejected(
        () => completeTinyUpload(target, condition),
        target,
        context,
        `ignores ${header} on CompleteMultipartUpload`,
        feature,
      );
    }
  } finally {
    await client.send(new sdk.DeleteObjectCommand({ Bucket: target.bucket, Key: key })).catch(() => undefined);
  }
}

/** A one-part multipart upload onto the probe key, completed under `condition`; always aborted afterwards. */
async function completeTinyUpload(target: ProbeTarget, condition: { IfNoneMatch?: string; IfMatch?: string }): Promise<void> {
  const { client, sdk } = target.connection;
  const base = { Bucket: target.bucket, Key: target.probeKey };
  const send = { abortSignal: target.signal };
  const { UploadId } = await client.send(new sdk.CreateMultipartUploadCommand(base), send);
  try {
    const part = await client.send(
      new sdk.UploadPartCommand({ ...base, UploadId, PartNumber: 1, Body: Buffer.from("opencrate probe") }),
      send,
    );
    await client.send(
      new sdk.CompleteMultipartUploadCommand({
        ...base,
        ...condition,
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
      }),
      send,
    );
  } finally {
    await client.send(new sdk.AbortMultipartUploadCommand({ ...base, UploadId })).catch(() => undefined);
  }
}

async function expectRejected(
  write: () => Promise<unknown>,
  target: ProbeTarget,
  context: S3ErrorContext,
  problem: string,
  feature: ProbedFeature,
): Promise<void> {
  try {
    await write();
  } catch (error) {
    if (isPreconditionFailed(error)) return;
    throw mapS3Error(error, context);
  }
  throw refuse(target, problem, feature);
}

function refuse(target: ProbeTarget, problem: string, feature: ProbedFeature): NotSupportedError {
  if (feature === "delete") {
    return new NotSupportedError(
      `The S3 store at ${target.context.endpoint} (bucket "${target.bucket}") ${problem}, so it cannot delete an object only at a given revision. AWS S3 enforces If-Match on DeleteObject.`,
      { path: target.context.uri },
    );
  }
  const consequence =
    feature === "put"
      ? "opencrate refuses to allocate versions on it, because concurrent runs could overwrite each other"
      : "opencrate refuses conditional multipart uploads and copies there, because they could silently overwrite (conditional writes of bodies up to one part still work)";
  return new NotSupportedError(
    `The S3 store at ${target.context.endpoint} (bucket "${target.bucket}") ${problem}; ${consequence}. Use AWS S3, MinIO RELEASE.2025-09-07 or later, or another store that enforces If-None-Match and If-Match.`,
    { path: target.context.uri },
  );
}

/** A well-formed ETag no object has. */
const WRONG_ETAG = '"00000000000000000000000000000000"';
