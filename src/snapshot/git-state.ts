/**
 * The git commit of the working folder and whether tracked files differ from it, for the run record. The commit
 * is read from `.git` directly (worktrees and packed refs included); the dirty flag asks `git status` with a short
 * time-out, at most once a minute per working folder and commit. Never throws: a folder that is not a checkout, or
 * a git that is missing or slow, gives null (or a null dirty flag).
 */
import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { clock } from "../clock.ts";
import type { GitState } from "../logs/run-record.ts";

const GIT_STATUS_TIMEOUT_MS = 2_000;
/**
 * A dirty flag this recent is reused for the same working folder and commit. Trap: starting `git status` forks
 * the whole Node process, which blocks its main thread for milliseconds to tens of milliseconds; asked at every
 * setup, it was the largest cost of a process that sets up many runs.
 */
export const DIRTY_REUSE_MS = 60_000;

export interface GitStateOptions {
  readonly timeoutMs?: number;
  /** Asks whether tracked files differ from the commit; null when git cannot say. Default: `git status`. */
  readonly askDirty?: (cwd: string, timeoutMs: number) => Promise<boolean | null>;
}

interface DirtyAnswer {
  readonly askedAt: number;
  readonly dirty: Promise<boolean | null>;
}

/** By working folder and commit; runs set up at the same time share one question. */
const recentAnswers = new Map<string, DirtyAnswer>();

export async function gitState(cwd: string = process.cwd(), options: GitStateOptions = {}): Promise<GitState | null> {
  const { timeoutMs = GIT_STATUS_TIMEOUT_MS, askDirty = isDirty } = options;
  const now = (): number => clock().now().getTime();
  try {
    const folder = resolve(cwd);
    const gitDir = await findGitDir(folder);
    if (gitDir === undefined) return null;
    const commit = await headCommit(gitDir);
    if (commit === undefined) return null;
    const key = `${folder}\0${commit}`;
    let answer = recentAnswers.get(key);
    if (answer === undefined || now() - answer.askedAt >= DIRTY_REUSE_MS) {
      for (const [other, old] of recentAnswers) if (now() - old.askedAt >= DIRTY_REUSE_MS) recentAnswers.delete(other);
      answer = { askedAt: now(), dirty: askDirty(folder, timeoutMs) };
      recentAnswers.set(key, answer);
    }
    return { commit, dirty: await answer.dirty };
  } catch {
    return null;
  }
}

/** The `.git` folder of the checkout holding `folder` (following a worktree's `.git` file). */
async function findGitDir(folder: string): Promise<string | undefined> {
  for (let current = folder; ; current = dirname(current)) {
    const candidate = join(current, ".git");
    const info = await stat(candidate).catch(() => undefined);
    if (info?.isDirectory()) return candidate;
    if (info?.isFile()) {
      const match = /^gitdir:\s*(.+)$/m.exec(await readFile(candidate, "utf8"));
      if (match?.[1] !== undefined) return isAbsolute(match[1].trim()) ? match[1].trim() : resolve(current, match[1].trim());
    }
    if (dirname(current) === current) return undefined;
  }
}

async function headCommit(gitDir: string): Promise<string | undefined> {
  const head = (await readFile(join(gitDir, "HEAD"), "utf8")).trim();
  if (/^[0-9a-f]{40,64}$/.test(head)) return head;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (ref === undefined) return undefined;
  // A linked worktree keeps its HEAD apart and its refs in the common folder.
  const common = await readFile(join(gitDir, "commondir"), "utf8").then(
    (text) => resolve(gitDir, text.trim()),
    () => gitDir,
  );
  for (const folder of new Set([gitDir, common])) {
    const loose = await readFile(join(folder, ref), "utf8").catch(() => undefined);
    if (loose !== undefined && /^[0-9a-f]{40,64}\s*$/.test(loose)) return loose.trim();
  }
  const packed = await readFile(join(common, "packed-refs"), "utf8").catch(() => "");
  for (const line of packed.split("\n")) {
    const [hash, name] = line.trim().split(" ");
    if (name === ref && hash !== undefined && /^[0-9a-f]{40,64}$/.test(hash)) return hash;
  }
  return undefined;
}

function isDirty(cwd: string, timeoutMs: number): Promise<boolean | null> {
  return new Promise((settle) => {
    execFile(
      "git",
      ["status", "--porcelain", "--untracked-files=no"],
      { cwd, timeout: timeoutMs, windowsHide: true, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => settle(error === null ? stdout.trim() !== "" : null),
    );
  });
}
