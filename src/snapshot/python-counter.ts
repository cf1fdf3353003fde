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
 * Our own processes are kept apart by a lock file beside the config, taken and broken when stale by the local
 * backend's rule (backends/local/lock.ts); the file is replaced by an atomic rename, so a reader never sees half of
 * it. Python takes no lock: it truncates the file and writes it again, so a read may meet it empty or cut short.
 * That is taken as a write under way, read again, and never written back (an empty config written back as `{}`
 * would drop every other name's counter). The file is read once more just before the rename and the edit starts
 * over when Python changed it, so our rename undoes a Python write only when it lands between that read and the
 * rename. The other way round, a Python setup that read the file before our rename writes its own view back.
 * OPENCRATE_PYTHON_COUNTER=0 turns it off.
 */
import { chmod, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { basename, dirname, join, resolve } from "node:path";
import { clock } from "../clock.ts";
import { CorruptDataError, TransientError } from "../errors.ts";
import { LOCAL_RETRY } from "../backends/local/local-backend.ts";
import { lockHeldError, releaseLock, tryLock } from "../backends/local/lock.ts";
import type { LockPaths } from "../backends/local/paths.ts";
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
/** A lock older than this was left by a process that died while holding it, when its owner cannot be judged from
 * here (one whose owner is gone goes sooner; one whose owner runs on this host never goes). */
const STALE_LOCK_MS = 120_000;
/** Edits of a config Python kept rewriting between our read and our rename, before giving up. */
const EDIT_ATTEMPTS = 5;

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
 * The file `configPath` names, links followed (undefined when there is none): its lock and its new copy sit beside
 * it, so that checkouts linking one shared config take one lock, and the link stays a link.
 */
async function configTarget(configPath: string): Promise<string | undefined> {
  try {
    return await realpath(configPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
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
  const target = await configTarget(configPath);
  if (target === undefined) return;
  await withConfigLock(target, retry, () =>
    editConfig(target, configPath, () => readConfig(target, configPath, name, version), `record version ${version} of '${name}' in it`, (read) => {
      const counters = read.config[COUNTERS_KEY];
      const current = typeof counters === "object" && counters !== null ? (counters as Record<string, unknown>)[name] : undefined;
      return typeof current === "number" && current >= version ? undefined : setJsonMember(read.text, [COUNTERS_KEY, name], String(version));
    }),
  );
}

/** Runs `action` holding the config's lock; does nothing when the project folder is missing. */
async function withConfigLock(target: string, retry: RetryPolicy, action: () => Promise<void>): Promise<void> {
  const paths: LockPaths = { lock: `${target}.lock`, breaker: `${target}.lock.breaker` };
  const token = await acquire(paths, retry);
  if (token === undefined) return;
  try {
    await action();
  } finally {
    await releaseLock(paths.lock, token);
  }
}

/**
 * Reads the config, edits its text (`edit` gives undefined when nothing is to change) and replaces it, called under
 * the lock; when Python rewrote the file meanwhile, all of it again, a few times at most.
 */
async function editConfig(
  target: string,
  configPath: string,
  read: () => Promise<ConfigText | undefined>,
  what: string,
  edit: (config: ConfigText) => string | undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const config = await read();
    if (config === undefined) return;
    const text = edit(config);
    if (text === undefined) return;
    if (await replaceConfig(target, Buffer.from(text, config.encoding), config.bytes)) return;
    if (attempt >= EDIT_ATTEMPTS) {
      throw new TransientError(`${configPath} was rewritten by another program each of ${EDIT_ATTEMPTS} times opencrate edited it; cannot ${what}.`, {
        path: configPath,
      });
    }
  }
}

/**
 * Replaces `target` with `bytes` through a staged copy and a rename, keeping its mode, unless the file no longer
 * holds `read` (what the edit started from): then false, and the file is left as it is.
 */
async function replaceConfig(target: string, bytes: Buffer, read: Buffer): Promise<boolean> {
  const { mode } = await stat(target);
  const staged = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let renamed = false;
  try {
    await writeFile(staged, bytes, { flag: "wx" });
    await chmod(staged, mode & 0o7777);
    // Trap: Python rewrites the file in place without our lock; the rename would undo what it wrote since our read.
    const now = await readFile(target).catch(() => undefined);
    if (now === undefined || !now.equals(read)) return false;
    await rename(staged, target);
    renamed = true;
    return true;
  } finally {
    if (!renamed) await rm(staged, { force: true });
  }
}

interface ConfigText {
  /** The file's bytes as read. */
  readonly bytes: Buffer;
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
      return { bytes, text, encoding, config: parsed as Record<string, unknown> };
    }
    throw refused(`holds ${Array.isArray(parsed) ? "a JSON array" : `the JSON value ${text.trim().slice(0, 40)}`}, not an object`);
  }
}

/**
 * Takes the lock (see withConfigLock), waiting a minute by the clock at most; undefined when the project folder is
 * missing.
 */
async function acquire(paths: LockPaths, retry: RetryPolicy): Promise<string | undefined> {
  const deadline = clock().now().getTime() + LOCK_WAIT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      const token = await tryLock(paths, { staleMs: STALE_LOCK_MS });
      if (token !== undefined) return token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw error;
    }
    if (clock().now().getTime() > deadline) throw lockHeldError(paths.lock, LOCK_WAIT_MS);
    await retry.wait(attempt);
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
  const target = await configTarget(configPath);
  if (target === undefined) return;
  const read = async (): Promise<ConfigText | undefined> => {
    try {
      return await readConfig(target, configPath, name, 0);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      throw new CorruptDataError(`${configPath} is not a JSON object; cannot remove the counter of '${name}' from it.`, {
        path: configPath,
        cause: error,
      });
    }
  };
  await withConfigLock(target, retry, () =>
    editConfig(target, configPath, read, `remove the counter of '${name}' from it`, (config) => {
      const counters = config.config[COUNTERS_KEY];
      if (typeof counters !== "object" || counters === null || Array.isArray(counters) || !Object.hasOwn(counters, name)) return undefined;
      return removeJsonMember(config.text, [COUNTERS_KEY, name]);
    }),
  );
}
