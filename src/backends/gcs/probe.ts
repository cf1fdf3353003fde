/**
 * The start-up checks that a store really enforces ifGenerationMatch before any create-only or compare-and-swap
 * write relies on it. Some stores accept the parameter and ignore it (fake-gcs-server before 1.55.0 on
 * resumable uploads, proxies, partial emulators); trusting one would let concurrent writers overwrite each other.
 * Uploads and copies (rewrites) are checked separately: fake-gcs-server 1.55.1 enforces the condition on
 * uploads but ignores it on rewrite, while Google Cloud Storage enforces it on both. Each check runs once per
 * process for each endpoint and bucket.
 */
import type { Agent } from "node:http";
import type { Bucket, File } from "@google-cloud/storage";
import { NotSupportedError } from "../../errors.ts";
import { NO_RETRY } from "../retry-policy.ts";
import { isPreconditionFailure } from "./errors.ts";
import { expectResource } from "./json-answer.ts";
import { uploadResumable } from "./resumable.ts";

const checked = new Map<string, Promise<void>>();
const copyVerdicts = new Map<string, Promise<boolean>>();
/** The settled verdicts of `copyVerdicts`, readable without waiting. */
const settledCopyVerdicts = new Map<string, boolean>();

/**
 * Runs `probe` the first time `key` is seen in `cache` and shares its outcome. A failure is forgotten, so the next
 * call probes again (unreachable, 5xx, 403), unless it is a verdict: a refusal (NotSupportedError).
 */
export function probeOnce<T>(cache: Map<string, Promise<T>>, key: string, probe: () => Promise<T>): Promise<T> {
  const known = cache.get(key);
  if (known !== undefined) return known;
  const pending = probe();
  cache.set(key, pending);
  pending.catch((error: unknown) => {
    if (!(error instanceof NotSupportedError) && cache.get(key) === pending) cache.delete(key);
  });
  return pending;
}

/** Resolves once the store at `storeKey` is known to enforce conditional writes (see {@link probeOnce}). */
export function ensureConditionalWrites(storeKey: string, probe: () => Promise<void>): Promise<void> {
  return probeOnce(checked, storeKey, probe);
}

/**
 * Writes `objectName` plainly, then tries to replace it with a create-only multipart upload, a create-only
 * resumable upload (through the same driver real writes use) and a compare-and-swap upload naming a stale
 * generation. Each must fail with 412. The probe object is deleted afterwards. SDK errors are thrown as they
 * are (the caller maps them). `agent` carries the time-outs for the resumable session.
 */
export async function probeConditionalWrites(bucket: Bucket, objectName: string, where: string, agent: Agent): Promise<void> {
  const file = bucket.file(objectName);
  // A fresh UUID name, so this first write needs no condition.
  await firstWrite(file, "opencrate: conditional-write probe (safe to delete)\n");
  const current = String(file.metadata.generation ?? "");
  const stale = current === "1" ? "2" : "1";
  try {
    const ignored: string[] = [];
    if (await replaced(() => file.save("second create-only write\n", { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }))) {
      ignored.push("a create-only multipart upload (ifGenerationMatch=0) replaced an existing object");
    }
    const resumableCreate = () =>
      uploadResumable(
        { file, agent, metadata: {}, preconditionOpts: { ifGenerationMatch: 0 }, chunkSize: 256 * 1024, retry: NO_RETRY },
        (async function* () {
          yield Buffer.from("third create-only write\n");
        })(),
      );
    if (await replaced(resumableCreate)) {
      ignored.push("a create-only resumable upload (ifGenerationMatch=0) replaced an existing object");
    }
    if (await replaced(() => file.save("stale write\n", { resumable: false, preconditionOpts: { ifGenerationMatch: stale } }))) {
      ignored.push("an upload naming a stale generation (ifGenerationMatch) replaced the object");
    }
    if (ignored.length > 0) {
      throw new NotSupportedError(
        `${where} does not enforce ifGenerationMatch preconditions: ${ignored.join("; ")}. Concurrent writers ` +
          "could overwrite each other's versions, so this store is refused. Use Google Cloud Storage or " +
          "fake-gcs-server 1.55.0 or later.",
        { path: where },
      );
    }
  } finally {
    await file.delete({ ignoreNotFound: true }).catch(() => undefined);
  }
}

/**
 * Writes a probe object plainly. An answer that is no object resource (an HTML page from a proxy) fails with
 * ForeignAnswerError, rather than as the checksum mismatch the SDK makes of it (it finds no checksum to compare).
 */
async function firstWrite(file: File, text: string): Promise<void> {
  try {
    await file.save(text, { resumable: false });
  } catch (error) {
    expectResource(file.metadata, "storage#object");
    throw error;
  }
  expectResource(file.metadata, "storage#object");
}

const deleteVerdicts = new Map<string, Promise<void>>();

/** Resolves once the store at `storeKey` is known to enforce ifGenerationMatch on deletes (see {@link probeOnce}). */
export function ensureConditionalDeletes(storeKey: string, probe: () => Promise<void>): Promise<void> {
  return probeOnce(deleteVerdicts, storeKey, probe);
}

/**
 * Writes `objectName` plainly, then deletes it naming a stale generation (ifGenerationMatch), which must fail with
 * 412 and leave the object: fake-gcs-server 1.55.1 ignores the condition and deletes it. The probe object is
 * deleted afterwards. SDK errors are thrown as they are (the caller maps them).
 */
export async function probeConditionalDeletes(bucket: Bucket, objectName: string, where: string): Promise<void> {
  const file = bucket.file(objectName);
  // A fresh UUID name, so this first write needs no condition.
  await firstWrite(file, "opencrate: conditional-delete probe (safe to delete)\n");
  const stale = String(file.metadata.generation ?? "") === "1" ? 2 : 1;
  try {
    let refused = false;
    try {
      await file.delete({ ifGenerationMatch: stale });
    } catch (error) {
      if (!isPreconditionFailure(error)) throw error;
      refused = true;
    }
    const [kept] = await file.exists();
    if (!refused || !kept) {
      throw new NotSupportedError(
        `${where} does not enforce ifGenerationMatch on deletes: a delete naming a stale generation ` +
          `${refused ? "was refused but deleted the object" : "deleted the object"}, so it cannot delete an object only ` +
          "at a given generation. Google Cloud Storage enforces it.",
        { path: where },
      );
    }
  } finally {
    await file.delete({ ignoreNotFound: true }).catch(() => undefined);
  }
}

/** Whether the store at `storeKey` enforces ifGenerationMatch on copies (rewrites), probed once (see {@link probeOnce}). */
export function copyPreconditionsEnforced(storeKey: string, probe: () => Promise<boolean>): Promise<boolean> {
  return probeOnce(copyVerdicts, storeKey, async () => {
    const enforced = await probe();
    settledCopyVerdicts.set(storeKey, enforced);
    return enforced;
  });
}

/** The verdict of {@link copyPreconditionsEnforced} for `storeKey`, or undefined while none has settled. */
export function knownCopyVerdict(storeKey: string): boolean | undefined {
  return settledCopyVerdicts.get(storeKey);
}

/**
 * Writes two probe objects plainly, then copies one onto the other create-only (ifGenerationMatch=0) and, if
 * that is refused, naming a stale generation. True when both fail with 412; false when either copy went
 * through (the store ignores copy preconditions). Both objects are deleted afterwards. SDK errors are thrown as
 * they are (the caller maps them).
 */
export async function probeCopyPreconditions(bucket: Bucket, names: { readonly source: string; readonly target: string }): Promise<boolean> {
  // Fresh UUID names, so these first writes need no condition.
  const source = bucket.file(names.source);
  const target = bucket.file(names.target);
  try {
    await source.save("opencrate: copy-precondition probe source (safe to delete)\n", { resumable: false });
    await target.save("opencrate: copy-precondition probe target (safe to delete)\n", { resumable: false });
    if (await replaced(() => source.copy(target, { preconditionOpts: { ifGenerationMatch: 0 } }))) return false;
    const stale = String(target.metadata.generation ?? "") === "1" ? "2" : "1";
    return !(await replaced(() => source.copy(target, { preconditionOpts: { ifGenerationMatch: stale } })));
  } finally {
    await Promise.all([source, target].map((file) => file.delete({ ignoreNotFound: true }).catch(() => undefined)));
  }
}

/** True when the conditional write went through; false when the store refused it with 412. */
async function replaced(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (isPreconditionFailure(error)) return false;
    throw error;
  }
}
