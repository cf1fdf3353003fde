/** Small helpers shared by the fault, crash and stress tests. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** `size` bytes of xorshift noise from `seed`: distinct seeds give distinct bodies that do not compress. */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size + 3);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes.writeUInt32LE(state >>> 0, i);
  }
  return bytes.subarray(0, size);
}

/** `bytes` as a stream of 1 MiB chunks. */
export async function* chunksOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += 1024 * 1024) yield bytes.subarray(offset, offset + 1024 * 1024);
}

/** Runs `tasks` with at most `limit` at once; resolves when all have settled (they handle their own errors). */
export async function runPool(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task !== undefined) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
}

/** Fisher–Yates with a given generator, so a seed fixes the order. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

export interface ChildRun {
  /** Resolves with the first stdout line that starts with `prefix` (rejects if the child exits first). */
  waitForLine(prefix: string): Promise<string>;
  /** Every stdout line so far. */
  lines(): string[];
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts `node <script> ...args` with stdout read line by line. */
export function startChild(script: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): ChildRun {
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
  let stdout = "";
  let stderr = "";
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  const completeLines = (): string[] => stdout.split("\n").slice(0, -1);
  const settleWaiters = (): void => {
    for (const waiter of waiters.splice(0)) {
      const line = completeLines().find((candidate) => candidate.startsWith(waiter.prefix));
      if (line === undefined) waiters.push(waiter);
      else waiter.resolve(line);
    }
  };
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    settleWaiters();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stderr }));
  });
  return {
    waitForLine: (prefix) =>
      new Promise<string>((resolve, reject) => {
        waiters.push({ prefix, resolve });
        settleWaiters();
        void exited.then((exit) =>
          reject(new Error(`child exited (${exit.code ?? exit.signal}) before printing "${prefix}…": ${exit.stderr}`)),
        );
      }),
    lines: completeLines,
    kill: (signal) => {
      child.kill(signal);
    },
    exited,
  };
}
