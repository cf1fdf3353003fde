/**
 * Whether a store can be asked how far a resumable upload got without that question finishing the upload.
 * Google Cloud Storage answers a status query (an empty PUT with `Content-Range: bytes *\/*`) with 308 and the
 * range it holds. fake-gcs-server 1.55.1 takes the same request as "the body ends here" and commits what the
 * session holds: asked after a failed chunk, it would replace a good object with the first part of the new one.
 * Sessions ask only a store this probe found safe (session.ts). Probed once per endpoint and bucket in a
 * process, before the first resumable upload: open a session on a fresh probe name, ask, and see whether an
 * object appears; the probe object (if any) is deleted and the session cancelled.
 */
import type { Agent } from "node:http";
import type { File } from "@google-cloud/storage";
import { NO_RETRY } from "../retry-policy.ts";
import { probeOnce } from "./probe.ts";
import { Session } from "./session.ts";

const verdicts = new Map<string, Promise<boolean>>();

/**
 * True when status queries are safe at `storeKey`: runs `probe` (which answers whether they commit) the first
 * time and shares its verdict. A failed probe is not remembered, so the next upload probes again.
 */
export function statusQueriesSafe(storeKey: string, probe: () => Promise<boolean>): Promise<boolean> {
  return probeOnce(verdicts, storeKey, async () => !(await probe()));
}

/** Whether a status query commits a session on the store of `file` (a fresh name nobody else uses). */
export async function statusQueryCommits(file: File, agent: Agent): Promise<boolean> {
  const [uri] = await file.createResumableUpload({ metadata: {}, preconditionOpts: { ifGenerationMatch: 0 } });
  const session = new Session(uri, { file, agent, retry: NO_RETRY, statusQueries: true });
  try {
    const commits = await session.statusQueryCommits();
    if (commits) await file.delete({ ignoreNotFound: true }).catch(() => undefined);
    return commits;
  } finally {
    await session.cancel();
  }
}
