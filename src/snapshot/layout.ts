/**
 * The key layout under a root, in one place:
 *   <name>/v<N>[:<tag>]/<name>.log | <name>.history.log | <type>s/<artifact> | <customType>/<artifact>
 *   <name>/dev[:<tag>]/…                              the scratch version ("dev"), outside the numbering
 *   <name>/.opencrate/versions/<N zero-padded>.json   version claims (create-only)
 *   <name>/.opencrate/runs/<runId>.json               run records shared by the ranks of one job
 *   <name>/.opencrate/replaces/<runId>.json           which rank of a job empties the folder it replaces
 *   <name>/.opencrate/run-records/<N>/<run>.json      how each run (each rank) of version N is doing or ended
 *   <name>/.opencrate/latest.json                     best-effort hint of the highest claim
 */
import { joinKey } from "../backends/keys.ts";
import { BOOKKEEPING_FOLDER } from "./bookkeeping.ts";

export const BUILTIN_TYPES = ["text", "json", "yaml", "csv", "image", "gif", "video", "audio", "checkpoint"] as const;
export type BuiltinType = (typeof BUILTIN_TYPES)[number];

const CLAIM_DIGITS = 10;
const CLAIM_FILE = /^(\d{10})\.json$/;
/**
 * The highest version opencrate claims or runs in: claims and run records are named by the number in 10 digits,
 * so that they list in numeric order, and read back only so. A folder above it (another tool's) is only read.
 */
export const MAX_VERSION = 10 ** CLAIM_DIGITS - 1;

export function isBuiltinType(type: string): type is BuiltinType {
  return (BUILTIN_TYPES as readonly string[]).includes(type);
}

/** The scratch version's folder is `dev` or `dev:<tag>`. */
export const DEV_VERSION = "dev";

/** `v3`, `v3:baseline`, `dev` or `dev:baseline`. */
export function versionFolderName(version: number | typeof DEV_VERSION, tag: string | undefined): string {
  const base = version === DEV_VERSION ? DEV_VERSION : `v${version}`;
  return tag === undefined ? base : `${base}:${tag}`;
}

/** `v0` or a number without leading zeros: `v01` is another tool's folder, not a second name for `v1`. */
const FOLDER = /^(?:v(0|[1-9]\d{0,14})|dev)(?::([A-Za-z0-9._-]{1,64}))?$/;

/**
 * Parses a folder name made by versionFolderName (`dev` folders have version "dev"); undefined for anything else,
 * `v01` included.
 */
export function parseFolderName(folder: string): { version: number | typeof DEV_VERSION; tag: string | undefined } | undefined {
  const match = FOLDER.exec(folder);
  if (match === null || (match[2] !== undefined && (match[2] === "." || match[2] === ".."))) return undefined;
  return { version: match[1] === undefined ? DEV_VERSION : Number(match[1]), tag: match[2] };
}

/** Parses a numbered folder name (`v3`, `v3:baseline`); undefined for anything else, `dev` included. */
export function parseVersionFolderName(folder: string): { version: number; tag: string | undefined } | undefined {
  const parsed = parseFolderName(folder);
  return parsed === undefined || parsed.version === DEV_VERSION ? undefined : { version: parsed.version, tag: parsed.tag };
}

/**
 * The number a folder occupies, tag or not, whatever its tag's characters (other tools do not check them):
 * `v3:any thing` still takes 3 away from "new". `v03` holds no number, as for parseFolderName.
 */
export function numberTakenByFolder(folder: string): number | undefined {
  const match = /^v(0|[1-9]\d{0,14})(?::.*)?$/s.exec(folder);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Whether a folder directly under `<name>/` is one `reset()` deletes: a version folder (a tag of any characters
 * included, as another tool may write it) or opencrate's bookkeeping. Anything else there (`notes.md`, `v01`,
 * `v3-old`) is not opencrate's to delete.
 */
export function isResetFolder(folder: string): boolean {
  return folder === BOOKKEEPING_FOLDER || parseFolderName(folder) !== undefined || numberTakenByFolder(folder) !== undefined || /^dev:/.test(folder);
}

export function nameKey(name: string): string {
  return name;
}

export function versionKey(name: string, folder: string): string {
  return joinKey(name, folder);
}

export function bookkeepingKey(name: string): string {
  return joinKey(name, BOOKKEEPING_FOLDER);
}

export function claimsPrefix(name: string): string {
  return `${joinKey(bookkeepingKey(name), "versions")}/`;
}

export function claimKey(name: string, version: number): string {
  return `${claimsPrefix(name)}${String(version).padStart(CLAIM_DIGITS, "0")}.json`;
}

/** The version number of a claim key, or undefined when the key is not a claim. */
export function versionOfClaimKey(name: string, key: string): number | undefined {
  const prefix = claimsPrefix(name);
  if (!key.startsWith(prefix)) return undefined;
  const match = CLAIM_FILE.exec(key.slice(prefix.length));
  return match === null ? undefined : Number(match[1]);
}

export function latestHintKey(name: string): string {
  return joinKey(bookkeepingKey(name), "latest.json");
}

export function runRecordKey(name: string, runId: string): string {
  return joinKey(bookkeepingKey(name), "runs", `${encodeURIComponent(runId)}.json`);
}

export function replaceRecordKey(name: string, runId: string): string {
  return joinKey(bookkeepingKey(name), "replaces", `${encodeURIComponent(runId)}.json`);
}

/** Every version's run records (`version` undefined), or those of one version. */
export function runRecordsPrefix(name: string, version?: number): string {
  const all = `${joinKey(bookkeepingKey(name), "run-records")}/`;
  return version === undefined ? all : `${all}${String(version).padStart(CLAIM_DIGITS, "0")}/`;
}

/** The version a run-record key belongs to, or undefined when the key is not one. */
export function versionOfRunRecordKey(name: string, key: string): number | undefined {
  const prefix = runRecordsPrefix(name);
  if (!key.startsWith(prefix) || !key.endsWith(".json")) return undefined;
  const match = /^(\d{10})\/[^/]+$/.exec(key.slice(prefix.length));
  return match === null ? undefined : Number(match[1]);
}

/** One run's record: named by start time, pid and rank, so a version's runs list in the order they started. */
export function runStatusKey(name: string, version: number, run: { startedAt: Date; pid: number; rank: number | undefined; nonce: string }): string {
  const started = String(run.startedAt.getTime()).padStart(13, "0");
  const rank = run.rank === undefined ? "" : `-rank${run.rank}`;
  return `${runRecordsPrefix(name, version)}${started}-${run.pid}-${run.nonce}${rank}.json`;
}

export function logKey(name: string, folder: string, rank?: number): string {
  return joinKey(name, folder, rank === undefined || rank === 0 ? `${name}.log` : `${name}.rank${rank}.log`);
}

export function historyKey(name: string, folder: string, rank?: number): string {
  return joinKey(
    name,
    folder,
    rank === undefined || rank === 0 ? `${name}.history.log` : `${name}.rank${rank}.history.log`,
  );
}

/** Built-in types live in `<type>s/`; custom types keep their name. */
export function typeFolder(type: string): string {
  return isBuiltinType(type) ? `${type}s` : type;
}

export function artifactKey(name: string, folder: string, type: string, artifactName: string): string {
  return joinKey(name, folder, typeFolder(type), artifactName);
}
