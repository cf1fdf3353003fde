/**
 * The default root against a local folder of the same name when one side cannot be read: a store that refuses
 * connections or never answers, a local folder another user owns. A pulled copy never stands in for the default
 * root's snapshot unasked, a local folder that holds versions is read saying why, a local root is read without
 * asking the store, and an unreadable local folder does not hide the default root's snapshot.
 */
import assert from "node:assert/strict";
import { chmod } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalBackend } from "../../src/backends/local/index.ts";
import { Snapshot } from "../../src/index.ts";
import { makeRoot, removeDir, runCli, runCliAsNobody, tempDir } from "./helpers.ts";

/** A default root on an S3 endpoint at `port` on this host. */
function s3RootAt(port: number): NodeJS.ProcessEnv {
  return {
    OPENCRATE_ROOT: "s3://team-bucket/snapshots",
    AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
  };
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return address.port;
}

/** A port nothing listens on: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listening(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function oneRun(root: string, name: string, line: string): Promise<void> {
  const run = await Snapshot.setup({ name, backend: new LocalBackend({ root }), console: false });
  run.info(line);
  await run.close();
}

describe("the default root against a local folder when one of them cannot be read", () => {
  let dir = "";
  let project = "";

  before(async () => {
    dir = await tempDir("default-root-unreadable");
    project = join(dir, "project");
    await makeRoot(join(project, "snapshots"));
    const pulled = await runCli(["pull", "train@latest", "--quiet"], { cwd: project });
    assert.equal(pulled.code, 0, pulled.stderr);
    await oneRun(project, "loc", "a run of our own in ./loc");
    await makeRoot(join(project, "data"));
  });
  after(() => removeDir(dir));

  it("a default root that cannot be read fails the command rather than read a pulled copy in its place", async () => {
    const env = s3RootAt(await closedPort());
    for (const args of [["log", "train@latest"], ["ls", "train"], ["pull", "train@latest", "--quiet"]]) {
      const result = await runCli(args, { cwd: project, env });
      assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
      assert.equal(result.stdout, "");
      const [first, second, ...rest] = result.stderr.split("\n");
      const given = args[1] ?? "";
      assert.equal(
        first,
        "opencrate: not reading ./train, which holds only pulled copies, in place of the default root's 'train', which could " +
          `not be read (to read the copies, write ./${given}).`,
      );
      assert.match(second ?? "", /^opencrate: .*s3:\/\/team-bucket\b/);
      assert.deepEqual(rest, [""]);
    }
    const local = await runCli(["log", "./train@latest"], { cwd: project, env });
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /first run of v1\n$/);
  });

  it("a local folder holding versions of its own is read when the default root cannot be, saying so", async () => {
    const env = s3RootAt(await closedPort());
    const result = await runCli(["log", "loc@latest"], { cwd: project, env });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /a run of our own in \.\/loc\n$/);
    assert.match(
      result.stderr,
      /^opencrate: reading \.\/loc@latest: the default root \(from OPENCRATE_ROOT\) could not be read to see whether it holds 'loc': .*s3:\/\/team-bucket\b.*\n$/,
    );
  });

  describe("with a default root whose store takes connections and never answers", () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let connections = 0;
    let env: NodeJS.ProcessEnv = {};
    before(async () => {
      server = createServer((socket) => {
        connections++;
        sockets.add(socket);
        socket.on("error", () => {});
      });
      env = s3RootAt(await listening(server));
    });
    after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it("a bare name that is a local root is listed without asking the store", async () => {
      connections = 0;
      const result = await runCli(["ls", "data"], { cwd: project, env });
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(result.stdout.trim().split("\n").sort(), ["eval", "train"]);
      assert.equal(result.stderr, "");
      assert.equal(connections, 0, "the store was asked");
    });

    it("a local folder holding versions is read once the store has had its short wait, saying it did not answer", async () => {
      const result = await runCli(["log", "loc@latest"], { cwd: project, env });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /a run of our own in \.\/loc\n$/);
      assert.equal(
        result.stderr,
        "opencrate: reading ./loc@latest: the default root (from OPENCRATE_ROOT) could not be read to see whether it holds " +
          "'loc': s3://team-bucket/snapshots did not answer within 2 s.\n",
      );
    });
  });

  it("a local folder this user may not read does not hide the default root's snapshot, and the line says why", async (context) => {
    if (process.platform === "win32" || process.getuid?.() !== 0) return context.skip("needs root on POSIX, to run the CLI as another user");
    const shared = join(dir, "shared");
    await makeRoot(join(shared, "snapshots"));
    // A folder left by a container running as root, say: it holds versions no one else may list.
    await oneRun(shared, "train", "root's own run");
    await chmod(join(shared, "train"), 0o700);
    for (const folder of [dir, shared]) await chmod(folder, 0o755);
    const result = await runCliAsNobody(["log", "train@latest"], { cwd: shared });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /first run of v1\n$/);
    assert.match(
      result.stderr,
      /^opencrate: reading snapshots\/train@latest, not \.\/train, which could not be read: Permission denied .*\.\/train\b.*\(EACCES\)\.\n$/,
    );
  });
});
