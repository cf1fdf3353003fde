/** Reading the run records back: every run of a version, and one status per version for listings. */
import type { StorageBackend } from "../backends/backend.ts";
import { clock } from "../clock.ts";
import { isOpenCrateError } from "../errors.ts";
import { parseRunRecord, type RunRecord, type RunStatus } from "../logs/run-record.ts";
import { runRecordsPrefix, versionOfRunRecordKey } from "./layout.ts";

const READ_CONCURRENCY = 16;

/** A run record, and when the store last wrote it: its object's lastModified, on the store's clock. */
export interface StoredRunRecord {
  readonly record: RunRecord;
  readonly storedAt: Date;
  /** The record's key. */
  readonly key: string;
}

/** The run records of one version (or of all versions), oldest start first. Unreadable records are skipped. */
export async function listRunRecords(backend: StorageBackend, name: string, version?: number): Promise<RunRecord[]> {
  return (await listStoredRunRecords(backend, name, version)).map((stored) => stored.record);
}

/**
 * listRunRecords, each record with when the store last wrote it; with `freshAt` (ms, the store's time now), only the
 * records not yet stale then (storedWithinStaleLimit) are read.
 */
export async function listStoredRunRecords(
  backend: StorageBackend,
  name: string,
  version?: number,
  options: { readonly freshAt?: number } = {},
): Promise<StoredRunRecord[]> {
  const listed: { readonly key: string; readonly storedAt: Date }[] = [];
  const { freshAt } = options;
  for await (const info of backend.list(runRecordsPrefix(name, version), { notUtf8: "skip" })) {
    if (versionOfRunRecordKey(name, info.key) !== undefined && (freshAt === undefined || storedWithinStaleLimit(info.lastModified.getTime(), freshAt))) {
      listed.push({ key: info.key, storedAt: info.lastModified });
    }
  }
  listed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const records: (StoredRunRecord | undefined)[] = new Array(listed.length);
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < listed.length) {
      const index = next++;
      const entry = listed[index];
      if (entry === undefined) continue;
      const record = await readRecord(backend, entry.key);
      records[index] = record === undefined ? undefined : { record, storedAt: entry.storedAt, key: entry.key };
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, listed.length) }, reader));
  return records.filter((stored): stored is StoredRunRecord => stored !== undefined);
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
  /** When the run last reported, on its own machine's clock. */
  readonly lastSeen: string;
  /** When the store last wrote one of its ranks' records, on the store's clock (ISO). */
  readonly lastStored: string;
}

/**
 * A `running` run whose record was not refreshed for this long is shown as `stale`: while it runs, its record is
 * refreshed at each flush and at least every minute, so it most likely died without ending the record (SIGKILL,
 * the OOM killer, a lost machine).
 */
export const STALE_AFTER_MS = 5 * 60_000;

/**
 * The run's status as shown (`opencrate ls`, the viewer): its record's, or `stale` for a running run whose record
 * the store has not written for STALE_AFTER_MS by `storeNow` (storeTime). Both times are the store's, so neither
 * the writer's clock (`lastSeen`) nor the reader's can make a live run look stale.
 */
export function shownStatus(run: Pick<RunSummary, "status" | "lastStored">, storeNow: number): RunStatus | "stale" {
  return run.status === "running" && !storedWithinStaleLimit(Date.parse(run.lastStored), storeNow) ? "stale" : run.status;
}

/** Whether a record the store wrote at `storedAt` is recent enough at `storeNow` for a `running` run not to be stale. */
export function storedWithinStaleLimit(storedAt: number, storeNow: number): boolean {
  return storeNow - storedAt <= STALE_AFTER_MS;
}

/** The store's time now, in ms: as `backend` measures it (StorageBackend.storeNow), else this machine's clock. */
export function storeTime(backend: StorageBackend): number {
  return (backend.storeNow?.() ?? clock().now()).getTime();
}

const STATUS_WEIGHT: Readonly<Record<RunStatus, number>> = { running: 3, failed: 2, killed: 1, finished: 0 };

/**
 * How the latest run of a version did: the records of the run that started last (all its ranks, when it has a
 * run id). Any rank still running makes it `running`; else any failed rank `failed`; else any killed `killed`.
 */
export function summarizeLatestRun(stored: readonly StoredRunRecord[]): RunSummary | undefined {
  const latest = stored.at(-1)?.record;
  if (latest === undefined) return undefined;
  const rankEntries = latest.runId === null ? stored.slice(-1) : stored.filter((entry) => entry.record.runId === latest.runId);
  const ranks = rankEntries.map((entry) => entry.record);
  const worst = ranks.reduce((a, b) => (STATUS_WEIGHT[b.status] > STATUS_WEIGHT[a.status] ? b : a));
  const ended = ranks.every((record) => record.endedAt !== null);
  return {
    status: worst.status,
    startedAt: ranks.map((record) => record.startedAt).sort()[0] ?? latest.startedAt,
    endedAt: ended ? ranks.map((record) => record.endedAt ?? "").sort().at(-1) ?? null : null,
    exitCode: worst.exitCode,
    signal: worst.signal,
    lastSeen: ranks.map((record) => record.lastSeen).sort().at(-1) ?? latest.lastSeen,
    lastStored: new Date(Math.max(...rankEntries.map((entry) => entry.storedAt.getTime()))).toISOString(),
  };
}

/**
 * The latest run's summary for each group of `name`'s run records, from one listing: grouped by version number
 * (`listVersions`) or by version folder (`opencrate ls`, where a resumed version's sibling folder is its own row).
 */
export async function summarizeRuns<K>(backend: StorageBackend, name: string, groupOf: (record: RunRecord) => K): Promise<Map<K, RunSummary>> {
  const groups = new Map<K, StoredRunRecord[]>();
  for (const stored of await listStoredRunRecords(backend, name)) {
    const key = groupOf(stored.record);
    const list = groups.get(key) ?? [];
    list.push(stored);
    groups.set(key, list);
  }
  const summaries = new Map<K, RunSummary>();
  for (const [key, records] of groups) {
    const summary = summarizeLatestRun(records);
    if (summary !== undefined) summaries.set(key, summary);
  }
  return summaries;
}
