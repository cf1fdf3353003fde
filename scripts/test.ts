/**
 * `npm test`: builds and starts the real test servers (scripts/test-servers.ts), runs node's test runner with
 * their TEST_* variables, and always stops them. Exits with the test runner's code.
 *
 *   npm test                                   every test/**\/*.test.ts
 *   npm test -- test/backends/s3-minio.test.ts       only these files (globs work too, quoted)
 *   npm test -- --test-name-pattern=conflict   extra runner flags, in the --flag=value form
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { removeOwnContainers } from "./servers/containers.ts";
import { withParentDeathSignal } from "./servers/process.ts";
import { exitOnSignals, startTestServers, type TestServers } from "./test-servers.ts";

const TEST_TIMEOUT_MS = 600_000; // one test hanging longer than this fails instead of eating CI's 90 minutes
const CHILD_STOP_GRACE_MS = 10_000;

const root = fileURLToPath(new URL("..", import.meta.url));
const extra = process.argv.slice(2);
const flags = extra.filter((arg) => arg.startsWith("-"));
const files = extra.filter((arg) => !arg.startsWith("-"));
const runnerArgs = [
  "--test",
  "--test-reporter=spec",
  "--test-concurrency=2",
  `--test-timeout=${TEST_TIMEOUT_MS}`,
  ...flags,
  ...(files.length > 0 ? files : ["test/**/*.test.ts"]),
];

let servers: TestServers | undefined;
let runner: ReturnType<typeof spawn> | undefined;

async function stopRunner(): Promise<void> {
  const child = runner;
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // The runner leads its own process group, so its per-file test processes get the signal too.
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid ?? 0), signal);
    } catch {
      // already gone
    }
  };
  signalGroup("SIGTERM");
  if ((await Promise.race([gone.then(() => "gone"), sleep(CHILD_STOP_GRACE_MS, "timeout")])) === "timeout") {
    signalGroup("SIGKILL");
    await gone;
  }
}

exitOnSignals(async () => {
  await stopRunner();
  await servers?.stop();
  await removeOwnContainers(); // containers of a start the signal interrupted
});

try {
  servers = await startTestServers();
} catch (error) {
  process.stderr.write(`test: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

let code: number;
try {
  process.stderr.write(`test: node ${runnerArgs.join(" ")}\n`);
  // TERM if we are SIGKILLed: the runner then ends its per-file test processes itself.
  const [file, argv] = withParentDeathSignal(process.execPath, runnerArgs, "TERM");
  const child = spawn(file, argv, {
    cwd: root,
    env: { ...process.env, ...servers.env },
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  runner = child;
  code = await new Promise<number>((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`test: could not start the test runner: ${error.message}\n`);
      resolve(1);
    });
    child.once("exit", (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
} finally {
  await servers.stop();
}
process.exit(code);
