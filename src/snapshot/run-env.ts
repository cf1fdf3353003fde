/** The run id and rank a process belongs to, from options and the environment launchers set. */
import { InvalidArgumentError } from "../errors.ts";

/**
 * `runId` option, else OPENCRATE_RUN_ID, else TORCHELASTIC_RUN_ID (set by torchrun). torchrun sets the latter to
 * "none" when no --rdzv-id is given (every plain launch), which names no run: it is ignored, or every job would
 * join the first one's version.
 */
export function resolveRunId(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const torchRunId = nonEmpty(env.TORCHELASTIC_RUN_ID);
  const runId = option ?? nonEmpty(env.OPENCRATE_RUN_ID) ?? (torchRunId === "none" ? undefined : torchRunId);
  if (runId === undefined) return undefined;
  if (typeof runId !== "string" || runId.length > 256 || /[\0-\x1f/\\]/.test(runId) || runId === "." || runId === "..") {
    throw new InvalidArgumentError(
      `Invalid run id ${JSON.stringify(runId)}: use 1-256 printable characters without '/' or '\\'.`,
    );
  }
  return runId;
}

/** RANK as set by torchrun and most launchers; undefined when unset. Rank 0 writes `<name>.log`. */
export function resolveRank(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = nonEmpty(env.RANK);
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw new InvalidArgumentError(`RANK must be a non-negative integer, got ${JSON.stringify(raw)}.`);
  const rank = Number(raw);
  const worldSize = nonEmpty(env.WORLD_SIZE);
  if (worldSize !== undefined && /^\d{1,9}$/.test(worldSize) && rank >= Number(worldSize)) {
    throw new InvalidArgumentError(`RANK ${rank} is not below WORLD_SIZE ${worldSize}.`);
  }
  return rank;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
