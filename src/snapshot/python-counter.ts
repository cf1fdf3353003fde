/**
 * Keeps Python OpenCrate's version counter in step with our claims. Python OpenCrate resolves `start="last"` and
 * `start="new"` from `./.opencrate/config.json` (`{"snapshot_version": {"<name>": <highest N>}}`) of its working
 * folder, never from the snapshot folders, and keeps its snapshots in `./snapshots` beside it. When a local root is
 * such a `snapshots` folder and that file exists, each version we claim raises the name's counter to it, so a Python
 * script run in that project next resumes our latest version and numbers its new one after it.
 *
 * Only the counter's own text is changed: the file is Python's, read with Python's JSON (bare NaN included), and
 * every other byte of it is kept, so values JavaScript cannot hold exactly (`1.0`, 64-bit integers) come back to
 * Python as they were, and Python's `\uXXXX` escapes stay ASCII for a Python reading it in another encoding.
 *
 * Our own processes are kept apart by a lock file created exclusively beside the config; the file is replaced by an
 * atomic rename, so a reader never sees half of it. Python takes no lock: it truncates the file and writes it again,
 * so a read may meet it empty or cut short. That is taken as a write under way, read again, and never written back
 * (an empty config written back as `{}` would drop every other name's counter).
 * OPENCRATE_PYTHON_COUNTER=0 turns it off.
 */
import { chmod, open, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { basename, dirname, join, resolve } from "node:path";
import { clock } from "../clock.ts";
import { CorruptDataError } from "../errors.ts";
import { LOCAL_RETRY } from "../backends/local/local-backend.ts";
import { RetryPolicy, type RetryOptions } from "../backends/retry-policy.ts";
import { parsePythonJson } from "../handlers/json.ts";
import { parseLocation } from "../uri.ts";
import { removeJsonMember, setJsonMember } from "./json-member-edit.ts";

const PROJECT_FOLDER = ".opencrate";
const CONFIG_FILE = "config.json";
const PYTHON_ROOT = "snapshots";
const COUNTERS_KEY = "snapshot_version";
const LOCK_WAIT_MS = 60_000;
/** Reads of a config found empty or not JSON (Python rewriting it) before giving up, and the waits between them
 * (at least 55 ms in all, where Python's rewrite takes well under a millisecond). */
const UNSETTLED_READS = 5;
const UNSETTLED_WAIT: RetryOptions = { baseDelayMs: 10, maxDelayMs: 40, jitter: "equal" };
/** A lock older than this was left by a process that died while holding it. */
const STALE_LOCK_MS = 120_000;

/**
 * The config file to keep in step for a root given as a path or URI (undefined when the caller gave its own
 * backend), or undefined when the root is not Python's or the feature is turned off. Python's root is always
 * `<project>/snapshots` and its config `<project>/.opencrate/config.json`, so a local root named `snapshots` points
 * at the config beside it, whatever folder the process runs in. The path is resolved as the local backend resolves
 * its root (against `cwd`, without following links), so both name the same project folder.
 */
export function pythonConfigFor(root: string | undefined, cwd: string = process.cwd()): string | undefined {
  if (root === undefined || process.env.OPENCRATE_PYTHON_COUNTER === "0") return undefined;
  const location = parseLocation(root);
  if (location.scheme !== "file") return undefined;
  const folder = resolve(cwd, location.path);
  if (basename(folder) !== PYTHON_ROOT) return undefined;
  return join(dirname(folder), PROJECT_FOLDER, CONFIG_FILE);
}

/**
 * Raises `snapshot_version[name]` in `configPath` to `version` (never lowers it), keeping every other byte.
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
    const read = await readConfig(target, configPath, name, version);
    if (read === undefined) return;
    const counters = read.config[COUNTERS_KEY];
    const current = typeof counters === "object" && counters !== null ? (counters as Record<string, unknown>)[name] : undefined;
    if (typeof current === "number" && current >= version) return;
    await replaceConfig(target, Buffer.from(setJsonMember(read.text, [COUNTERS_KEY, name], String(version)), read.encoding));
  } finally {
    await rm(lock, { force: true });
  }
}

/** Replaces `target` with `bytes` through a staged copy and a rename, keeping its mode (called under the lock). */
async function replaceConfig(target: string, bytes: Buffer): Promise<void> {
  const { mode } = await stat(target);
  const staged = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(staged, bytes, { flag: "wx" });
    await chmod(staged, mode & 0o7777);
    await rename(staged, target);
  } catch (error) {
    await rm(staged, { force: true });
    throw error;
  }
}

interface ConfigText {
  /** The file's text, decoded so that encoding it back with `encoding` gives its bytes again. */
  readonly text: string;
  readonly encoding: "utf8" | "latin1";
  readonly config: Record<string, unknown>;
}

/**
 * The config in `file` (what `configPath` names), read as Python's json.load reads it, or undefined when there is
 * none. One found empty or not JSON is read again a few times (Python writes it in place, without our lock); still
 * so, it is CORRUPT_DATA and left as it is, as is a config holding JSON other than an object.
 */
async function readConfig(file: string, configPath: string, name: string, version: number): Promise<ConfigText | undefined> {
  const rereads = new RetryPolicy(UNSETTLED_WAIT);
  const refused = (problem: string, cause?: unknown): CorruptDataError =>
    new CorruptDataError(`${configPath} ${problem}; cannot record version ${version} of '${name}' in it.`, {
      path: configPath,
      ...(cause === undefined ? {} : { cause }),
    });
  for (let attempt = 1; ; attempt++) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    // Trap: a file a user saved in another encoding (Python reads it in the locale's) is taken byte for byte, so the
    // bytes of its strings are written back unchanged; its JSON syntax is ASCII either way.
    const encoding = isUtf8(bytes) ? "utf8" : "latin1";
    const text = bytes.toString(encoding);
    let parsed: unknown;
    try {
      parsed = parsePythonJson(text);
    } catch (error) {
      if (attempt >= UNSETTLED_READS) throw refused(`is not valid JSON (${(error as Error).message})`, error);
      await rereads.wait(attempt);
      continue;
    }
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return { text, encoding, config: parsed as Record<string, unknown> };
    }
    throw refused(`holds ${Array.isArray(parsed) ? "a JSON array" : `the JSON value ${text.trim().slice(0, 40)}`}, not an object`);
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
  let read: ConfigText | undefined;
  try {
    // The version named is only for readConfig's message, which is dropped here.
    read = await readConfig(configPath, configPath, name, 0);
  } catch {
    return undefined;
  }
  const counters = read?.config[COUNTERS_KEY];
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
    let read: ConfigText | undefined;
    try {
      read = await readConfig(target, configPath, name, 0);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      throw new CorruptDataError(`${configPath} is not a JSON object; cannot remove the counter of '${name}' from it.`, {
        path: configPath,
        cause: error,
      });
    }
    const counters = read?.config[COUNTERS_KEY];
    if (read === undefined || typeof counters !== "object" || counters === null || Array.isArray(counters) || !Object.hasOwn(counters, name)) return;
    await replaceConfig(target, Buffer.from(removeJsonMember(read.text, [COUNTERS_KEY, name]), read.encoding));
  } finally {
    await rm(lock, { force: true });
  }
}
