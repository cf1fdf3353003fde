/**
 * The runs still going in a name's versions, as their records say: `running`, and stored within STALE_AFTER_MS by
 * the store's clock (shownStatus, as `ls` judges them). `reset()` and `replace` delete nothing such a run writes.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { PreconditionFailedError } from "../errors.ts";
import type { RunRecord } from "../logs/run-record.ts";
import { DEV_VERSION, nameKey, versionKey } from "./layout.ts";
import { listStoredRunRecords, shownStatus, STALE_AFTER_MS, storeTime } from "./run-records.ts";

export interface LiveRunFilter {
  /** Only the records of this number (-1: the "dev" folders); all of the name's when undefined. */
  readonly version?: number;
  /** Only the runs of this folder (`v3`, `v3:baseline`, `dev`). */
  readonly folder?: string;
  /** Leaves out this record: the caller's own run. */
  readonly exceptKey?: string;
  /** Leaves out the records of this run id: the caller's own job, whose processes share the version. */
  readonly exceptRunId?: string;
}

export async function liveRuns(backend: StorageBackend, name: string, filter: LiveRunFilter = {}): Promise<RunRecord[]> {
  const storeNow = storeTime(backend);
  // Only a record stored within the stale limit can be a live run's: the others are not read.
  const stored = await listStoredRunRecords(backend, name, filter.version, { freshAt: storeNow });
  return stored
    .filter(
      ({ record, storedAt, key }) =>
        key !== filter.exceptKey &&
        (filter.folder === undefined || record.versionName === filter.folder) &&
        (filter.exceptRunId === undefined || record.runId !== filter.exceptRunId) &&
        shownStatus({ status: record.status, lastStored: storedAt.toISOString() }, storeNow) === "running",
    )
    .map(({ record }) => record);
}

/**
 * PRECONDITION_FAILED when a run other than `ownRecordKey` (the resetting snapshot's own) is still going in any
 * version of `name`: `reset()` would delete what it writes, and its later saves would land in the next run's `v0`.
 */
export async function refuseResetWhileRunning(backend: StorageBackend, name: string, ownRecordKey: string | undefined): Promise<void> {
  const runs = await liveRuns(backend, name, ownRecordKey === undefined ? {} : { exceptKey: ownRecordKey });
  if (runs.length === 0) return;
  const where = backend.describe(nameKey(name));
  throw new PreconditionFailedError(
    `reset() of '${name}' at ${where} deleted nothing: ${runs.length === 1 ? "a run is" : "runs are"} still writing ` +
      `into it: ${describeLiveRuns(runs)}. Wait for ${runs.length === 1 ? "it" : "them"} to end (or stop ` +
      `${runs.length === 1 ? "it" : "them"}), or call reset({ confirm: true, evenIfRunning: true }) to delete anyway: ` +
      `such a run then stores no more log lines and its saves fail. ${DEAD_RUNS_NOTE}`,
    { path: where },
  );
}

/**
 * PRECONDITION_FAILED when a run is still going in the folder `replace` would empty, other than the processes of
 * the caller's own run id (which share the version): before anything is written or deleted there.
 */
export async function refuseReplaceWhileRunning(
  backend: StorageBackend,
  name: string,
  version: number | typeof DEV_VERSION,
  folder: string,
  runId: string | undefined,
): Promise<void> {
  const filter = { version: version === DEV_VERSION ? -1 : version, folder, ...(runId === undefined ? {} : { exceptRunId: runId }) };
  const runs = await liveRuns(backend, name, filter);
  if (runs.length === 0) return;
  const where = backend.describe(versionKey(name, folder));
  throw new PreconditionFailedError(
    `replace: true did not empty ${where}: ${runs.length === 1 ? "a run is" : "runs are"} still writing into it: ` +
      `${describeLiveRuns(runs)}. Nothing there was deleted. Wait for ${runs.length === 1 ? "it" : "them"} to end, ` +
      `or start a new version (start: "new"). ${DEAD_RUNS_NOTE}`,
    { path: where },
  );
}

/** `v0 (host gpu-7, pid 30520, run id 'job-1', rank 1, last seen …)` for each run, joined by "; ". */
export function describeLiveRuns(runs: readonly RunRecord[]): string {
  return runs
    .map((run) => {
      const job = run.runId === null ? "" : `, run id '${run.runId}'`;
      const rank = run.rank === null ? "" : `, rank ${run.rank}`;
      return `${run.versionName} (host ${run.host}, pid ${run.pid}${job}${rank}, last seen ${run.lastSeen})`;
    })
    .join("; ");
}

/** What a refusal says about runs that died without ending their record. */
export const DEAD_RUNS_NOTE =
  `A run that died without ending its record (SIGKILL, a lost machine) no longer counts once the store has not ` +
  `rewritten its record for ${STALE_AFTER_MS / 60_000} minutes (opencrate ls then shows it stale).`;
