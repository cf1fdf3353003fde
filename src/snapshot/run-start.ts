/** The first run record of a run: who runs, where, with what, in which version. */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { GitState, RunRecord } from "../logs/run-record.ts";
import { runStatusKey } from "./layout.ts";

export interface RunStart {
  readonly name: string;
  readonly version: number;
  readonly versionName: string;
  /** The log object's name inside the version folder. */
  readonly log: string;
  readonly runId: string | undefined;
  readonly rank: number | undefined;
  readonly startedAt: Date;
  readonly git: GitState | null;
}

export function firstRunRecord(start: RunStart): { key: string; record: RunRecord } {
  const key = runStatusKey(start.name, start.version, {
    startedAt: start.startedAt,
    pid: process.pid,
    rank: start.rank,
    nonce: randomBytes(3).toString("hex"),
  });
  const startedAt = start.startedAt.toISOString();
  const record: RunRecord = {
    status: "running",
    exitCode: null,
    signal: null,
    startedAt,
    endedAt: null,
    lastSeen: startedAt,
    host: hostname(),
    pid: process.pid,
    runId: start.runId ?? null,
    rank: start.rank ?? null,
    node: process.version,
    argv: [...process.argv],
    git: start.git,
    version: start.version,
    versionName: start.versionName,
    log: start.log,
  };
  return { key, record };
}
