/**
 * Keeps Python OpenCrate's version counter in step with our claims. Python OpenCrate resolves `start="last"` and
 * `start="new"` from `./.opencrate/config.json` (`{"snapshot_version": {"<name>": <highest N>}}`) of its working
 * folder, never from the snapshot folders. When that file exists and the root is Python's own (the local
 * `snapshots` folder of the working folder), each version we claim raises the name's counter to it, so a Python
 * script run there next resumes our latest version and numbers its new one after it.
 *
 * Our own processes are kept apart by a lock file created exclusively beside the config; the file is replaced by an
 * atomic rename, so a reader never sees half of it. Python takes no lock: it truncates the file and writes it again,
 * so a read may meet it empty or cut short. That is taken as a write under way, read again, and never written back
 * (an empty config written back as `{}` would drop every other name's counter).
 * OPENCRATE_PYTHON_COUNTER=0 turns it off.
 */
import { chmod, open, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, join, resolve } from "node:path";
import { clock } from "../clock.ts";
import { CorruptDataError } from "../errors.ts";
import { LOCAL_RETRY } from "../backends/local/local-backend.ts";
import { RetryPolicy, type RetryOptions } from "../backends/retry-policy.ts";
import { parseLocation } from "../uri.ts";

const PROJECT_FOLDER = ".opencrate";
const CONFIG_FILE = "config.json";
const PYTHON_ROOT = "snapshots";
const LOCK_WAIT_MS = 60_000;
/** Reads of a config found empty or not JSON (Python rewriting it) before giving up, and the waits between them
 * (at least 55 ms in all, where Python's rewrite takes well under a millisecond). */
const UNSETTLED_READS = 5;
const UNSETTLED_WAIT: RetryOptions = { baseDelayMs: 10, maxDelayMs: 40, jitter: "equal" };
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
  // The file a link names: its lock and its new copy sit beside it, so that checkouts linking one shared config
  // take one lock, and the link stays a link.
  let target: string;
  try {
    target = await realpath(configPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const lock = `${target}.lock`;
  if (!(await acquire(lock, retry))) return;
  try {
    const config = await readConfig(target, configPath, name, version);
    if (config === undefined) return;
    const counters = typeof config.snapshot_version === "object" && config.snapshot_version !== null
      ? (config.snapshot_version as Record<string, unknown>)
      : {};
    const current = counters[name];
    if (typeof current === "number" && current >= version) return;
    config.snapshot_version = { ...counters, [name]: version };
    const { mode } = await stat(target);
    const staged = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeFile(staged, JSON.stringify(config, null, 4), { flag: "wx" });
      await chmod(staged, mode & 0o7777);
      await rename(staged, target);
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
  } finally {
    await rm(lock, { force: true });
  }
}

/**
 * The config in `file` (what `configPath` names) as a JSON object, or undefined when there is none. One found empty
 * or not JSON is read again a few times (Python writes it in place, without our lock); still so, it is CORRUPT_DATA
 * and left as it is.
 */
async function readConfig(file: string, configPath: string, name: string, version: number): Promise<Record<string, unknown> | undefined> {
  const rereads = new RetryPolicy(UNSETTLED_WAIT);
  for (let attempt = 1; ; attempt++) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    let parsed: unknown;
    let cause: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      cause = error;
    }
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    if (cause === undefined || attempt >= UNSETTLED_READS) {
      throw new CorruptDataError(`${configPath} is not a JSON object; cannot record version ${version} of '${name}' in it.`, {
        path: configPath,
        ...(cause === undefined ? {} : { cause }),
      });
    }
    await rereads.wait(attempt);
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

/**
 * Python OpenCrate's counter for `name` in `configPath` (`snapshot_version[name]`: the highest number Python took,
 * written before Python makes that version's folder), or undefined when there is none: no file, no counter for the
 * name, a value that is no version number, or a config that stays unreadable (the raise after the claim warns
 * about that one).
 */
export async function readPythonCounter(configPath: string, name: string): Promise<number | undefined> {
  let config: Record<string, unknown> | undefined;
  try {
    // The version named is only for readConfig's message, which is dropped here.
    config = await readConfig(configPath, configPath, name, 0);
  } catch {
    return undefined;
  }
  const counters = config?.snapshot_version;
  const counter = typeof counters === "object" && counters !== null && !Array.isArray(counters) ? (counters as Record<string, unknown>)[name] : undefined;
  return typeof counter === "number" && Number.isSafeInteger(counter) && counter >= 0 ? counter : undefined;
}

/**
 * Removes `snapshot_version[name]` from `configPath`, keeping every other key, so the name's numbering restarts at
 * v0 for both tools after its versions were deleted (Python OpenCrate's own reset removes every name's counter).
 * Does nothing when the file or the counter does not exist. Written as {@link raisePythonCounter} writes.
 */
export async function forgetPythonCounter(
  configPath: string,
  name: string,
  retry: RetryPolicy = new RetryPolicy(LOCAL_RETRY),
): Promise<void> {
  let target: string;
  try {
    target = await realpath(configPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const lock = `${target}.lock`;
  if (!(await acquire(lock, retry))) return;
  try {
    let config: Record<string, unknown> | undefined;
    try {
      config = await readConfig(target, configPath, name, 0);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      throw new CorruptDataError(`${configPath} is not a JSON object; cannot remove the counter of '${name}' from it.`, {
        path: configPath,
        cause: error,
      });
    }
    const counters = config?.snapshot_version;
    if (typeof counters !== "object" || counters === null || Array.isArray(counters) || !Object.hasOwn(counters, name)) return;
    if (config === undefined) return;
    const { [name]: _forgotten, ...kept } = counters as Record<string, unknown>;
    config.snapshot_version = kept;
    const { mode } = await stat(target);
    const staged = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      await writeFile(staged, JSON.stringify(config, null, 4), { flag: "wx" });
      await chmod(staged, mode & 0o7777);
      await rename(staged, target);
    } catch (error) {
      await rm(staged, { force: true });
      throw error;
    }
  } finally {
    await rm(lock, { force: true });
  }
}
