/**
 * Every command ends on SIGINT and SIGTERM, also as PID 1 of a container (pid1-cli.ts: a signal the CLI has no
 * handler for does nothing there): at its start, while it waits for a store that accepts connections and never
 * answers, and mid-work, while a local read is stalled (stalling-cli.ts). `ls`, `tree`, `cat` and `log` end by the
 * signal (status 130 or 143 where the signal cannot end the process itself), `pull` exits 1 with its one
 * `interrupted` line, and `log --follow` and `ui`, which run until stopped, exit 0.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readdir, stat } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";
import { PID1_MAIN, removeDir, startCli, STALLING_MAIN, tempDir, type CliResult, type RunningCli } from "./helpers.ts";

/** A store that accepts connections and never answers; `connected` resolves on the first one. */
interface SilentStore {
  readonly endpoint: string;
  readonly connected: Promise<void>;
  close(): Promise<void>;
}

async function silentStore(): Promise<SilentStore> {
  const sockets = new Set<Socket>();
  let firstConnection = (): void => {};
  const connected = new Promise<void>((resolve) => (firstConnection = resolve));
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    firstConnection();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    connected,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

function s3Env(endpoint: string): NodeJS.ProcessEnv {
  return { AWS_ENDPOINT_URL_S3: endpoint, AWS_ACCESS_KEY_ID: "opencrate", AWS_SECRET_ACCESS_KEY: "opencrate-secret", AWS_REGION: "us-east-1" };
}

/** What a command interrupted by `signal` is documented to end with. */
type Ending = "by-signal" | "interrupted-pull" | "stopped";

function assertEnded(result: CliResult, ending: Ending, signal: NodeJS.Signals, asPid1: boolean): void {
  const detail = `code ${result.code}, signal ${result.signal}, stderr: ${result.stderr}`;
  switch (ending) {
    case "by-signal":
      // As PID 1 the signal cannot end the process, so it exits with the status a shell would show.
      if (asPid1) assert.equal(result.code, signal === "SIGINT" ? 130 : 143, detail);
      else assert.equal(result.signal, signal, detail);
      assert.equal(result.stderr, `opencrate: interrupted (${signal}).\n`);
      return;
    case "interrupted-pull":
      assert.equal(result.code, 1, detail);
      assert.match(result.stderr, /^opencrate: interrupted\b.*\n$/);
      return;
    case "stopped":
      assert.equal(result.code, 0, detail);
      assert.equal(result.stderr, "");
      return;
  }
}

/** Ends the CLI if a test failed before it did. */
async function stopped(cli: RunningCli, signal: NodeJS.Signals): Promise<CliResult> {
  cli.child.kill(signal);
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), 60_000);
  try {
    return await cli.result;
  } finally {
    clearTimeout(timer);
  }
}

describe("the CLI ends on SIGINT and SIGTERM while it waits for a store that does not answer", () => {
  const cases: { readonly args: (dest: string) => string[]; readonly ending: Ending }[] = [
    { args: () => ["ls", "s3://bucket/runs/train"], ending: "by-signal" },
    { args: () => ["tree", "s3://bucket/runs/train@latest"], ending: "by-signal" },
    { args: () => ["cat", "s3://bucket/runs/train@latest/jsons/metrics.json"], ending: "by-signal" },
    { args: () => ["log", "s3://bucket/runs/train@latest"], ending: "by-signal" },
    { args: () => ["log", "s3://bucket/runs/train@latest", "--follow"], ending: "stopped" },
    { args: (dest) => ["pull", "s3://bucket/runs/train@latest", dest], ending: "interrupted-pull" },
    { args: () => ["ui", "s3://bucket/runs", "--port", "0"], ending: "stopped" },
  ];
  let dir: string;
  before(async () => {
    dir = await tempDir("interrupt");
  });
  after(() => removeDir(dir));

  for (const { args, ending } of cases) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it(`${args("dest").join(" ")}: ${signal} as PID 1`, async () => {
        const store = await silentStore();
        try {
          const cli = startCli(args(join(dir, `dest-${signal}`)), { main: PID1_MAIN, env: s3Env(store.endpoint) });
          await Promise.race([store.connected, cli.result.then((result) => assert.fail(`it ended before it reached the store: ${result.stderr}`))]);
          const result = await stopped(cli, signal);
          assertEnded(result, ending, signal, true);
          if (ending === "interrupted-pull") assert.equal(result.stderr, `opencrate: interrupted (${signal}) before any file was downloaded.\n`);
        } finally {
          await store.close();
        }
      });
    }
  }

  it("ends by the signal itself where the process is not PID 1", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const store = await silentStore();
      try {
        const cli = startCli(["ls", "s3://bucket/runs/train"], { env: s3Env(store.endpoint) });
        await store.connected;
        assertEnded(await stopped(cli, signal), "by-signal", signal, false);
      } finally {
        await store.close();
      }
    }
  });
});

describe("the CLI ends on SIGTERM mid-work as PID 1", () => {
  let dir: string;
  let root: string;
  // Over the 1 MiB that a local read passes at once, so that the stalled read holds back the rest.
  const text = "a line of the notes\n".repeat(130_000);

  before(async () => {
    dir = await tempDir("interrupt-work");
    root = join(dir, "snapshots");
    const run = await Snapshot.setup({ name: "train", backend: new LocalBackend({ root }), console: false });
    run.info("the first line");
    await run.text("notes.txt").save(text);
    await run.checkpoint("big.bin").save(new Uint8Array(3 * 1024 * 1024).fill(7));
    await run.close();
  });
  after(() => removeDir(dir));

  const stalling = (args: string[]): RunningCli =>
    startCli(args, { main: PID1_MAIN, env: { PID1_MAIN: STALLING_MAIN, STALL_AFTER_BYTES: String(64 * 1024) } });

  it("cat, with part of the file written and the read stalled", async () => {
    const cli = stalling(["cat", `${root}/train@latest/texts/notes.txt`]);
    await cli.waitFor("a line of the notes\n");
    const result = await stopped(cli, "SIGTERM");
    assertEnded(result, "by-signal", "SIGTERM", true);
    assert.ok(result.stdout.length < text.length, "the stalled read was interrupted");
  });

  it("pull, with a partial file and the read stalled", async () => {
    const dest = join(dir, "pulled");
    const cli = stalling(["pull", `${root}/train@latest`, dest, "--concurrency", "1"]);
    const checkpoints = join(dest, "checkpoints");
    for (;;) {
      const names = (await readdir(checkpoints).catch(() => [] as string[])).filter((name) => name.startsWith(".ocpart-"));
      const sizes = await Promise.all(names.map(async (name) => (await stat(join(checkpoints, name)).catch(() => undefined))?.size ?? 0));
      if (sizes.some((size) => size > 0)) break;
      if (cli.child.exitCode !== null) assert.fail(`the pull ended before it was interrupted: ${(await cli.result).stderr}`);
      await sleep(10);
    }
    const result = await stopped(cli, "SIGTERM");
    assertEnded(result, "interrupted-pull", "SIGTERM", true);
    assert.match(result.stderr, /^opencrate: interrupted: \d+ of 3 files .*, \d+ unfinished\. Run the same pull again to finish it\.\n$/);
  });

  it("log --follow, following", async () => {
    const cli = startCli(["log", `${root}/train@latest`, "--follow", "--interval", "50"], { main: PID1_MAIN });
    await cli.waitFor("the first line");
    assertEnded(await stopped(cli, "SIGTERM"), "stopped", "SIGTERM", true);
  });

  it("ui, serving", async () => {
    const cli = startCli(["ui", root, "--port", "0"], { main: PID1_MAIN });
    await cli.waitFor("press Ctrl-C to stop");
    assertEnded(await stopped(cli, "SIGTERM"), "stopped", "SIGTERM", true);
  });
});
