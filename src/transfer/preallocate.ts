/**
 * Sizing a file before parallel ranges are written into it at their offsets. Writes into blocks the file system has
 * already reserved cost the kernel least: on ext4 a 1 GiB ranged download spent 1.1-3 s of kernel time writing past
 * the end of a growing file, 0.2-0.4 s writing into a file already at its size (a hole, whose blocks are still
 * reserved one by one as pages arrive), and less again into reserved blocks. Node has no call for fallocate(2), so
 * on Linux the util-linux `fallocate` command reserves them, given the open file as its standard input (no name is
 * looked up again); where it is missing or the file system refuses, the file is only extended (ftruncate).
 */
import { spawn } from "node:child_process";
import type { FileHandle } from "node:fs/promises";

const FALLOCATE_TIMEOUT_MS = 10_000;

/** Set once `fallocate` could not be started: not tried again in this process. */
let noFallocate = process.platform !== "linux";

/**
 * Makes the file at least `size` bytes long, its blocks reserved where the system allows. A disk without room for
 * them rejects here with ENOSPC, as a write would later, before any byte is transferred; `path` names the file in
 * that error. `signal` stops the command.
 */
export async function preallocate(handle: FileHandle, size: number, path: string, signal?: AbortSignal): Promise<void> {
  if ((await handle.stat()).size >= size) return;
  if (!noFallocate && (await reserveBlocks(handle.fd, size, path, signal))) return;
  await handle.truncate(size);
}

/** Whether the blocks were reserved; rejects when the disk has no room for them, or on `signal`. */
function reserveBlocks(fd: number, size: number, path: string, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted === true) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    // The file goes to the command as its standard input, named by the command's own /proc/self (a /proc/<pid> of
    // ours could name another process's file where /proc belongs to another PID namespace). The C locale keeps the
    // command's message in English, where "No space left" is looked for.
    const child = spawn("fallocate", ["--length", String(size), "/proc/self/fd/0"], {
      stdio: [fd, "ignore", "pipe"],
      env: { ...process.env, LC_ALL: "C" },
      ...(signal === undefined ? {} : { signal }),
    });
    // Not spawn's own time-out: its timer outlives a command that could not start, keeping the process alive.
    const timer = setTimeout(() => child.kill(), FALLOCATE_TIMEOUT_MS).unref();
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.once("error", () => {
      clearTimeout(timer);
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      // The command could not be started (ENOENT: not installed): not tried again.
      noFallocate = true;
      resolve(false);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (signal?.aborted === true) return;
      if (code === 0) resolve(true);
      else if (stderr.includes("No space left on device")) {
        reject(Object.assign(new Error(`ENOSPC: no space left on device, fallocate '${path}' (${size} bytes)`), { code: "ENOSPC", syscall: "fallocate", path }));
      } else resolve(false);
    });
  });
}
