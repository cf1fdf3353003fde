/**
 * The git commit of the working folder and whether tracked files differ from it, for the run record. The commit
 * is read from `.git` directly (worktrees and packed refs included); the dirty flag asks `git status` with a short
 * time-out. Never throws: a folder that is not a checkout, or a git that is missing or slow, gives null (or a
 * null dirty flag).
 */
import { execFile } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { GitState } from "../logs/run-record.ts";

const GIT_STATUS_TIMEOUT_MS = 2_000;

export async function gitState(cwd: string = process.cwd(), timeoutMs = GIT_STATUS_TIMEOUT_MS): Promise<GitState | null> {
  try {
    const gitDir = await findGitDir(resolve(cwd));
    if (gitDir === undefined) return null;
    const commit = await headCommit(gitDir);
    if (commit === undefined) return null;
    return { commit, dirty: await isDirty(cwd, timeoutMs) };
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
