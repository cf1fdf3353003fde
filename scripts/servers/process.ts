/**
 * One long-running server process: output to a log file, a readiness poll with a deadline, and a stop that always
 * ends it (SIGTERM, then SIGKILL). Processes still alive when Node exits are killed synchronously, and on Linux
 * each is started under `setpriv --pdeathsig KILL`, so even a SIGKILLed parent leaves no orphan server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

const STOP_GRACE_MS = 5_000;
const SETPRIV = "/usr/bin/setpriv";

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** The exit code (or signal name) once the process has ended. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** Removed (recursively) after the process has ended, also by the exit-time safety net. */
  readonly scratchDir: string;
}

const live = new Set<{ child: ChildProcess; scratchDir: string }>();
const running = new Set<ServerProcess>();
let exitHookInstalled = false;

/** Stops every server this process started and has not stopped yet (for signal handlers). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill and remove what a caller forgot to stop (or could not, on a crash).
  process.on("exit", () => {
    for (const entry of live) {
      if (entry.child.exitCode === null && entry.child.signalCode === null) entry.child.kill("SIGKILL");
      rmSync(entry.scratchDir, { recursive: true, force: true });
    }
  });
}

/**
 * The command line that runs `command` so the kernel sends it `signal` when this Node process dies, even by
 * SIGKILL (Linux, util-linux setpriv; elsewhere the command as is).
 */
export function withParentDeathSignal(command: string, args: readonly string[], signal: "KILL" | "TERM"): [string, string[]] {
  if (process.platform === "linux" && existsSync(SETPRIV)) return [SETPRIV, ["--pdeathsig", signal, "--", command, ...args]];
  return [command, [...args]];
}

export function spawnServer(name: string, command: string, args: readonly string[], options: SpawnOptions): ServerProcess {
  installExitHook();
  const [file, argv] = withParentDeathSignal(command, args, "KILL");
  const out = openSync(options.logFile, "a");
  let child: ChildProcess;
  try {
    // Own process group: a Ctrl-C in the terminal reaches only us, and we stop the servers after the tests.
    child = spawn(file, argv, { cwd: options.cwd, env: options.env, stdio: ["ignore", out, out], detached: true });
  } finally {
    closeSync(out);
  }
  const entry = { child, scratchDir: options.scratchDir };
  live.add(entry);
  let ended = false;
  const exited = new Promise<string>((resolve) => {
    child.once("error", (error) => {
      ended = true;
      resolve(`spawn error: ${error.message}`);
    });
    child.once("exit", (code, signal) => {
      ended = true;
      resolve(signal ?? String(code));
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!ended) {
        child.kill("SIGTERM");
        const outcome = await Promise.race([exited, sleep(STOP_GRACE_MS, "timeout")]);
        if (outcome === "timeout") {
          child.kill("SIGKILL");
          await exited;
        }
      }
      rmSync(options.scratchDir, { recursive: true, force: true });
      live.delete(entry);
      running.delete(server);
    })();
    return stopping;
  };
  const server: ServerProcess = { name, pid: child.pid ?? -1, logFile: options.logFile, exited, hasExited: () => ended, stop };
  running.add(server);
  return server;
}

/** A port that was free a moment ago on 127.0.0.1 (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === "object") resolve(address.port);
        else reject(new Error("could not read the port of a probe socket"));
      });
    });
  });
}

/**
 * Polls `probe` until it returns true. Fails when the deadline passes or the process exits first; the error
 * names the last probe failure.
 */
export async function waitUntilReady(
  server: ServerProcess,
  what: string,
  probe: () => Promise<boolean>,
  deadline: number,
): Promise<void> {
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (server.hasExited()) throw new Error(`${server.name} exited (${await server.exited}) before ${what}`);
    try {
      if (await probe()) return;
      last = "not ready";
    } catch (error) {
      last = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    }
    await sleep(200);
  }
  throw new Error(`${server.name} did not reach "${what}" within the deadline (last: ${last})`);
}

/** GET `url` and report whether it answered 200. */
export async function answers200(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.status === 200;
}

export function logTail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
