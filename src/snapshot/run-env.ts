/**
 * The run id and rank a process belongs to, from options and the environment launchers set:
 *   torchrun          RANK, LOCAL_RANK, WORLD_SIZE; TORCHELASTIC_RUN_ID (from --rdzv-id; "none" without it)
 *   Open MPI mpirun   OMPI_COMM_WORLD_RANK (no run id: set OPENCRATE_RUN_ID)
 *   MPICH / Hydra     PMI_RANK (no run id: set OPENCRATE_RUN_ID)
 *   Slurm srun        SLURM_PROCID; SLURM_JOB_ID and SLURM_STEP_ID name the run
 *   others (accelerate, deepspeed, Ray …) export RANK like torchrun; give them OPENCRATE_RUN_ID
 *   LOCAL_RANK alone  the rank when NODE_RANK is unset or 0, or with NODE_RANK and LOCAL_WORLD_SIZE
 */
import { InvalidArgumentError } from "../errors.ts";
import { FILE_NAME_MAX_BYTES, showValue } from "./names.ts";

/** Rank variables, in the order they are read; LOCAL_RANK names a rank on one machine only (see localRank). */
const GLOBAL_RANK_VARIABLES = ["RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"] as const;
const RANK_VARIABLES = ["RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "SLURM_PROCID"] as const;
/**
 * A run id names its run's record files, `<encodeURIComponent(runId)>.json` (layout.ts), so percent-encoded it may
 * have 255 bytes less `.json` and the `%23<count>` a second setup of a name appends (see setupRunId), at most
 * `%23` and 9 digits: 238 bytes. Letters, digits and `- _ . ! ~ * ' ( )` take one byte each, other characters
 * three per UTF-8 byte.
 */
export const RUN_ID_MAX_ENCODED_BYTES = FILE_NAME_MAX_BYTES - ".json".length - "%23".length - 9;

/** Slurm's special steps (batch script, extern, interactive) are 0xfffffff0 and up: not a launched job step. */
const FIRST_SPECIAL_SLURM_STEP = 0xfffffff0;

/**
 * `runId` option, else OPENCRATE_RUN_ID, else TORCHELASTIC_RUN_ID (set by torchrun), else `slurm-<job>.<step>`
 * for a task started by srun. torchrun sets TORCHELASTIC_RUN_ID to "none" when no --rdzv-id is given (every plain
 * launch), which names no run: it is ignored, or every job would join the first one's version.
 */
export function resolveRunId(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // Checked first: `runId: null` must not fall through to the environment (and turn off the `<id>#2` numbering).
  if (option !== undefined && typeof option !== "string") {
    throw new InvalidArgumentError(`runId must be a string, got ${showValue(option)}.`);
  }
  const torchRunId = nonEmpty(env.TORCHELASTIC_RUN_ID);
  const ours = nonEmpty(env.OPENCRATE_RUN_ID);
  const slurm = slurmRunId(env);
  const [runId, source] =
    option !== undefined
      ? [option, "runId"]
      : ours !== undefined
        ? [ours, "OPENCRATE_RUN_ID"]
        : torchRunId !== undefined && torchRunId !== "none"
          ? [torchRunId, "TORCHELASTIC_RUN_ID"]
          : [slurm, "SLURM_JOB_ID"];
  if (runId === undefined) return undefined;
  const rule =
    `use printable characters, not all white space, in well-formed Unicode, without '/' or '\\', and at most ` +
    `${RUN_ID_MAX_ENCODED_BYTES} bytes as its record's file name (percent-encoded: A-Z a-z 0-9 - _ . ! ~ * ' ( ) ` +
    `take one byte, other characters three per UTF-8 byte)`;
  if (
    runId.trim() === "" || // blank, as a blank OPENCRATE_ROOT or OPENCRATE_LOG_LEVEL is refused
    /[\0-\x1f/\\]/.test(runId) ||
    runId === "." ||
    runId === ".." ||
    /\p{Cs}/u.test(runId) // a lone surrogate: not well-formed Unicode
  ) {
    throw new InvalidArgumentError(`Invalid run id ${JSON.stringify(runId)} (from ${source}): ${rule}.`);
  }
  const encoded = encodeURIComponent(runId).length; // ASCII: its length is its bytes
  if (encoded > RUN_ID_MAX_ENCODED_BYTES) {
    throw new InvalidArgumentError(
      `Invalid run id ${JSON.stringify(runId)} (from ${source}): it is ${encoded} bytes as a file name; ${rule}.`,
    );
  }
  return runId;
}

/** How many setups of each snapshot name this process has made under a run id from its environment. */
const setupsByName = new Map<string, number>();

/** The run id of one setup, and how to give its number back when the setup fails before its version is resolved. */
export interface SetupRunId {
  readonly runId: string | undefined;
  /** Gives the number back (unless a later setup took one since): the setup, made again, runs under the same id. */
  release(): void;
}

/**
 * The run id of this process's next setup of snapshot `name`. A run id from the environment names the job, not one
 * setup: a task that sets up the same snapshot again (a sweep in one Slurm task, a loop over configurations) starts
 * a run each time, so its second and later setups of `name` get `<id>#2`, `<id>#3` …, and each takes a version of
 * its own. The ranks of the job run the same script and make the same setups in the same order, so they still share
 * each one's version. A `runId` option is taken as it is.
 */
export function setupRunId(option: string | undefined, name: string, env: NodeJS.ProcessEnv = process.env): SetupRunId {
  const runId = resolveRunId(option, env);
  if (runId === undefined || option !== undefined) return { runId, release: () => {} };
  // Taken at once: setups of one name made at the same time in this process are runs of their own.
  const count = (setupsByName.get(name) ?? 0) + 1;
  setupsByName.set(name, count);
  const release = (): void => {
    if (setupsByName.get(name) === count) setupsByName.set(name, count - 1);
  };
  return { runId: count === 1 ? runId : `${runId}#${count}`, release };
}

function slurmRunId(env: NodeJS.ProcessEnv): string | undefined {
  const job = nonEmpty(env.SLURM_JOB_ID);
  const step = nonEmpty(env.SLURM_STEP_ID);
  if (job === undefined || step === undefined || nonEmpty(env.SLURM_PROCID) === undefined) return undefined;
  if (!/^\d{1,10}$/.test(step) || Number(step) >= FIRST_SPECIAL_SLURM_STEP) return undefined;
  return `slurm-${job}.${step}`;
}

/**
 * The process's rank: RANK (torchrun and most launchers), else OMPI_COMM_WORLD_RANK, PMI_RANK, SLURM_PROCID, else
 * LOCAL_RANK when it tells the job's rank (see localRank); undefined when none is set. Rank 0 writes `<name>.log`.
 */
export function resolveRank(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const variable = GLOBAL_RANK_VARIABLES.find((name) => nonEmpty(env[name]) !== undefined);
  const rank = variable === undefined ? localRank(env) : readIndex(env, variable);
  if (rank === undefined) return undefined;
  const worldSize = nonEmpty(env.WORLD_SIZE);
  if (worldSize !== undefined && /^\d{1,9}$/.test(worldSize) && rank >= Number(worldSize)) {
    throw new InvalidArgumentError(`${variable ?? "The rank from LOCAL_RANK"} ${rank} is not below WORLD_SIZE ${worldSize}.`);
  }
  return rank;
}

/**
 * The job's rank from LOCAL_RANK (a rank on one machine) when that is unambiguous: LOCAL_RANK itself when NODE_RANK
 * is unset or 0 (one machine), NODE_RANK × LOCAL_WORLD_SIZE + LOCAL_RANK when both are set; otherwise undefined.
 */
function localRank(env: NodeJS.ProcessEnv): number | undefined {
  if (nonEmpty(env.LOCAL_RANK) === undefined) return undefined;
  const local = readIndex(env, "LOCAL_RANK");
  const node = nonEmpty(env.NODE_RANK) === undefined ? 0 : readIndex(env, "NODE_RANK");
  if (node === 0) return local;
  if (nonEmpty(env.LOCAL_WORLD_SIZE) === undefined) return undefined;
  const perNode = readIndex(env, "LOCAL_WORLD_SIZE");
  if (local >= perNode) {
    throw new InvalidArgumentError(`LOCAL_RANK ${local} is not below LOCAL_WORLD_SIZE ${perNode}.`);
  }
  return node * perNode + local;
}

function readIndex(env: NodeJS.ProcessEnv, variable: string): number {
  const raw = env[variable] ?? "";
  if (!/^\d{1,9}$/.test(raw)) {
    throw new InvalidArgumentError(`${variable} must be a non-negative integer, got ${JSON.stringify(raw)}.`);
  }
  return Number(raw);
}

/**
 * A warning when a launcher marked this process as one rank of a job but nothing names the job: then each rank
 * takes a version of its own. Also, under a run id, when LOCAL_RANK is set but the job's rank cannot be told from it
 * (NODE_RANK above 0 without LOCAL_WORLD_SIZE): then every rank writes `<name>.log` and their lines collide.
 * Undefined otherwise.
 */
export function rankWithoutRunIdWarning(runId: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (runId !== undefined) {
    if (nonEmpty(env.LOCAL_RANK) === undefined || resolveRank(env) !== undefined) return undefined;
    return (
      `LOCAL_RANK=${env.LOCAL_RANK} is set but no rank of the whole job was found (RANK is unset, and NODE_RANK=` +
      `${env.NODE_RANK ?? ""} without LOCAL_WORLD_SIZE), so every process of run ${JSON.stringify(runId)} writes ` +
      `the same log and their lines collide. Set RANK (or LOCAL_WORLD_SIZE) for every process.`
    );
  }
  const variable = RANK_VARIABLES.find((name) => nonEmpty(env[name]) !== undefined);
  if (variable === undefined) return undefined;
  return (
    `${variable}=${env[variable]} is set but no run id was found, so each rank of this job takes its own version. ` +
    `Give every rank the same id: set OPENCRATE_RUN_ID (or pass runId to setup); torchrun sets ` +
    `TORCHELASTIC_RUN_ID when given --rdzv-id, and srun sets SLURM_JOB_ID and SLURM_STEP_ID.`
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
