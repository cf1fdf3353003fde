/**
 * Keeps Python OpenCrate's version counter in step with our claims. Python OpenCrate resolves `start="last"` and
 * `start="new"` from `./.opencrate/config.json` (`{"snapshot_version": {"<name>": <highest N>}}`) of its working
 * folder, never from the snapshot folders. When that file exists and the root is Python's own (the local
 * `snapshots` folder of the working folder), each version we claim raises the name's counter to it, so a Python
 * script run there next resumes our latest version and numbers its new one after it.
 *
 * Concurrent writers (several of our processes, or Python itself) are kept apart by a lock file created
 * exclusively beside the config; the file is replaced by an atomic rename, so a reader never sees half of it.
 * OPENCRATE_PYTHON_COUNTER=0 turns it off.
 */
import { open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { clock } from "../clock.ts";
import { CorruptDataError } from "../errors.ts";
import { LOCAL_RETRY } from "../backends/local/local-backend.ts";
import { RetryPolicy } from "../backends/retry-policy.ts";
import { parseLocation } from "../uri.ts";

const PROJECT_FOLDER = ".opencrate";
const CONFIG_FILE = "config.json";
const PYTHON_ROOT = "snapshots";
const LOCK_WAIT_MS = 60_000;
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 120_000;

/**
 * The config file to keep in step for a root given as a path or URI (undefined when the caller gave its own
 * backend), or undefined when the root is not Python's or the feature is turned off.
 */
export function pythonConfigFor(root: string | undefined, cwd: string = process.cwd()): string | undefined {
  if (root === undefined || process.env.OPENCRATE_PYTHON_COUNTER === "0") return undefined;
  const location = parseLocation(root);
  if (location.scheme !== "file" || resolve(cwd, location.path) !== resolve(cwd, PYTHON_ROOT)) return undefined;
  return join(cwd, PROJECT_FOLDER, CONFIG_FILE);
}

/**
 * Raises `snapshot_version[name]` in `configPath` to `version` (never lowers it), keeping every other key.
 * Does nothing when the file does not exist (not a Python OpenCrate project).
 */
export async function raisePythonCounter(
  configPath: string,
  name: string,
  version: number,
  retry: RetryPolicy = new RetryPolicy(LOCAL_RETRY),
): Promise<void> {
  const lock = `${configPath}.lock`;
  if (!(await acquire(lock, retry))) return;
  try {
    let text: string;
    try {
      text = await readFile(configPath, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    let config: Record<string, unknown>;
    try {
      const parsed: unknown = text.trim() === "" ? {} : JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new SyntaxError("not an object");
      config = parsed as Record<string, unknown>;
    } catch (error) {
      throw new CorruptDataError(`${configPath} is not a JSON object; cannot record version ${version} of '${name}' in it.`, {
        path: configPath,
        cause: error,
      });
    }
    const counters = typeof config.snapshot_version === "object" && config.snapshot_version !== null
      ? (config.snapshot_version as Record<string, unknown>)
      : {};
    const current = counters[name];
    if (typeof current === "number" && current >= version) return;
    config.snapshot_version = { ...counters, [name]: version };
    const staged = `${configPath}.${process.pid}.tmp`;
    await writeFile(staged, JSON.stringify(config, null, 4));
    await rename(staged, configPath);
  } finally {
    await rm(lock, { force: true });
  }
}

/** Creates the lock file exclusively; false when the project folder is missing. Breaks a stale lock. */
async function acquire(lock: string, retry: RetryPolicy): Promise<boolean> {
  const deadline = clock().now().getTime() + LOCK_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await (await open(lock, "wx")).close();
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return false;
      if (code !== "EEXIST") throw error;
    }
    const age = await lockAge(lock);
    if (age !== undefined && age > STALE_LOCK_MS) {
      await rm(lock, { force: true });
      continue;
    }
    if (clock().now().getTime() > deadline) {
      throw new CorruptDataError(`${lock} has been held for over ${LOCK_WAIT_MS / 1000} s; delete it if no opencrate process is running.`, {
        path: lock,
      });
    }
    await retry.wait(attempt);
  }
}

async function lockAge(lock: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lock)).mtimeMs;
  } catch {
    return undefined;
  }
}
