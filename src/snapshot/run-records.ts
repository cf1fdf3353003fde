/** Reading the run records back: every run of a version, and one status per version for listings. */
import type { StorageBackend } from "../backends/backend.ts";
import { isOpenCrateError } from "../errors.ts";
import { parseRunRecord, type RunRecord, type RunStatus } from "../logs/run-record.ts";
import { runRecordsPrefix, versionOfRunRecordKey } from "./layout.ts";

const READ_CONCURRENCY = 16;

/** The run records of one version (or of all versions), oldest start first. Unreadable records are skipped. */
export async function listRunRecords(backend: StorageBackend, name: string, version?: number): Promise<RunRecord[]> {
  const keys: string[] = [];
  for await (const info of backend.list(runRecordsPrefix(name, version), { notUtf8: "skip" })) {
    if (versionOfRunRecordKey(name, info.key) !== undefined) keys.push(info.key);
  }
  keys.sort();
  const records: (RunRecord | undefined)[] = new Array(keys.length);
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < keys.length) {
      const index = next++;
      records[index] = await readRecord(backend, keys[index] ?? "");
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, keys.length) }, reader));
  return records.filter((record): record is RunRecord => record !== undefined);
}

async function readRecord(backend: StorageBackend, key: string): Promise<RunRecord | undefined> {
  try {
    return parseRunRecord(JSON.parse(Buffer.from(await backend.get(key)).toString("utf8")));
  } catch (error) {
    if (isOpenCrateError(error, "NOT_FOUND") || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

export interface RunSummary {
  readonly status: RunStatus;
  /** When the run's first rank started. */
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly lastSeen: string;
}

/**
 * A `running` run whose record was not refreshed for this long is shown as `stale`: while it runs, its record is
 * refreshed at each flush and at least every minute, so it most likely died without ending the record (SIGKILL,
 * the OOM killer, a lost machine).
 */
export const STALE_AFTER_MS = 5 * 60_000;

/** The run's status as shown (`opencrate ls`, the viewer): its record's, or `stale` for a running run not seen lately. */
export function shownStatus(run: Pick<RunSummary, "status" | "lastSeen">, now: number): RunStatus | "stale" {
  return run.status === "running" && now - Date.parse(run.lastSeen) > STALE_AFTER_MS ? "stale" : run.status;
}

const STATUS_WEIGHT: Readonly<Record<RunStatus, number>> = { running: 3, failed: 2, killed: 1, finished: 0 };

/**
 * How the latest run of a version did: the records of the run that started last (all its ranks, when it has a
 * run id). Any rank still running makes it `running`; else any failed rank `failed`; else any killed `killed`.
 */
export function summarizeLatestRun(records: readonly RunRecord[]): RunSummary | undefined {
  const latest = records.at(-1);
  if (latest === undefined) return undefined;
  const ranks = latest.runId === null ? [latest] : records.filter((record) => record.runId === latest.runId);
  const worst = ranks.reduce((a, b) => (STATUS_WEIGHT[b.status] > STATUS_WEIGHT[a.status] ? b : a));
  const ended = ranks.every((record) => record.endedAt !== null);
  return {
    status: worst.status,
    startedAt: ranks.map((record) => record.startedAt).sort()[0] ?? latest.startedAt,
    endedAt: ended ? ranks.map((record) => record.endedAt ?? "").sort().at(-1) ?? null : null,
    exitCode: worst.exitCode,
    signal: worst.signal,
    lastSeen: ranks.map((record) => record.lastSeen).sort().at(-1) ?? latest.lastSeen,
  };
}

/**
 * The latest run's summary for each group of `name`'s run records, from one listing: grouped by version number
 * (`listVersions`) or by version folder (`opencrate ls`, where a resumed version's sibling folder is its own row).
 */
export async function summarizeRuns<K>(backend: StorageBackend, name: string, groupOf: (record: RunRecord) => K): Promise<Map<K, RunSummary>> {
  const groups = new Map<K, RunRecord[]>();
  for (const record of await listRunRecords(backend, name)) {
    const key = groupOf(record);
    const list = groups.get(key) ?? [];
    list.push(record);
    groups.set(key, list);
  }
  const summaries = new Map<K, RunSummary>();
  for (const [key, records] of groups) {
    const summary = summarizeLatestRun(records);
    if (summary !== undefined) summaries.set(key, summary);
  }
  return summaries;
}
