/**
 * Sizing a file before parallel ranges are written into it at their offsets. Writes into blocks the file system has
 * already reserved cost the kernel least: on ext4 a 1 GiB ranged download spent 1.1-3 s of kernel time writing past
 * the end of a growing file, 0.2-0.4 s writing into a file already at its size (a hole, whose blocks are still
 * reserved one by one as pages arrive), and less again into reserved blocks. Node has no call for fallocate(2), so
 * on Linux the util-linux `fallocate` command reserves them, given the open file by its /proc path (no name is looked
 * up again); where it is missing or the file system refuses, the file is only extended (ftruncate).
 */
import { execFile } from "node:child_process";
import type { FileHandle } from "node:fs/promises";

const FALLOCATE_TIMEOUT_MS = 10_000;

/** Set once `fallocate` could not be started: not tried again in this process. */
let noFallocate = process.platform !== "linux";

/**
 * Makes the file at least `size` bytes long, its blocks reserved where the system allows. A disk without room for
 * them rejects here with ENOSPC, as a write would later, before any byte is transferred; `path` names the file in
 * that error.
 */
export async function preallocate(handle: FileHandle, size: number, path: string): Promise<void> {
  if ((await handle.stat()).size >= size) return;
  if (!noFallocate && (await reserveBlocks(handle.fd, size, path))) return;
  await handle.truncate(size);
}

/** Whether the blocks were reserved; rejects when the disk has no room for them. */
function reserveBlocks(fd: number, size: number, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const args = ["--length", String(size), `/proc/${process.pid}/fd/${fd}`];
    // The C locale keeps the command's message in English, where "No space left" is looked for.
    const env = { ...process.env, LC_ALL: "C" };
    execFile("fallocate", args, { timeout: FALLOCATE_TIMEOUT_MS, env }, (error, _stdout, stderr) => {
      if (error === null) {
        resolve(true);
        return;
      }
      // A string code is the spawn's own failure (ENOENT: no such command); a number is the command's exit status.
      if (typeof (error as { code?: unknown }).code === "string") noFallocate = true;
      else if (stderr.includes("No space left on device")) {
        reject(Object.assign(new Error(`ENOSPC: no space left on device, fallocate '${path}' (${size} bytes)`), { code: "ENOSPC", syscall: "fallocate", path }));
        return;
      }
      resolve(false);
    });
  });
}
