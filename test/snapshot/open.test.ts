/**
 * Snapshot.open(uri): @latest, @N, @tag and version folders, read-only, on memory, local disk, MinIO (s3://) and
 * fake-gcs-server (gs://). The URI goes through backendFromUri as a user's would, so the cloud runs configure the
 * SDKs the standard way (AWS_ENDPOINT_URL_S3, STORAGE_EMULATOR_HOST). moto is left out: one process can point
 * s3:// URIs at one endpoint only, and MinIO is that endpoint here.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { ArtifactStorage } from "../../src/index.ts";
import { Snapshot } from "../../src/index.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";
import { gcsEnv, minioEnv, useTestServersForUris } from "../support/servers.ts";

useTestServersForUris();
const minio = minioEnv();
const gcs = gcsEnv();

class NotesHandler {
  declare storage: ArtifactStorage;
  async save(text: string): Promise<void> {
    await this.storage.write(text, "note.txt");
  }
  async load(): Promise<string> {
    return this.storage.readText("note.txt");
  }
}

/** Names Python OpenCrate takes, which a new opencrate snapshot may not have. */
const PYTHON_NAMES = ["my run", "résumé", "exp:1", "run#1", "x@y", "q?x", "50%", "v1:x", "a@b@c", " lead", "tab\u0085"];

const openable = allBackendFactories().filter((factory) => /^(memory|local|minio|gcs)\b/.test(factory.label));

for (const factory of openable) {
  describe(`Snapshot.open on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    let root: string;
    let scratch: string;

    before(async () => {
      backend = await factory.make();
      root = backend.describe("");
      scratch = await mkdtemp(join(tmpdir(), "opencrate-open-"));
      const make = async (start: "new" | number, tag: string | undefined, value: number): Promise<void> => {
        const snapshot = await Snapshot.setup({ name: "shared", start, ...(tag === undefined ? {} : { tag }), backend, console: false });
        await snapshot.json("metrics.json").save({ value });
        await snapshot.close();
      };
      await make("new", "base", 0);
      await make("new", undefined, 1);
      await make("new", "base", 2);
      await make(1, "later", 11); // resuming v1 with another tag: the sibling folder v1:later
    });
    after(async () => {
      await rm(scratch, { recursive: true, force: true });
      await factory.cleanup();
    });

    const load = async (uri: string): Promise<[string, unknown]> => {
      const snapshot = await Snapshot.open(uri);
      assert.equal(snapshot.readOnly, true);
      return [snapshot.versionName, await snapshot.json("metrics.json").load()];
    };

    it("resolves @latest, @N, @tag and version folders", async () => {
      assert.deepEqual(await load(`${root}/shared@latest`), ["v2:base", { value: 2 }]);
      // Of a number's folders, @N opens the one written last: the sibling made by resuming v1 with another tag.
      assert.deepEqual(await load(`${root}/shared@1`), ["v1:later", { value: 11 }]);
      assert.deepEqual(await load(`${root}/shared/v1`), ["v1", { value: 1 }]);
      assert.deepEqual(await load(`${root}/shared@base`), ["v2:base", { value: 2 }]);
      assert.deepEqual(await load(`${root}/shared@later`), ["v1:later", { value: 11 }], "tags of sibling folders count");
      assert.deepEqual(await load(`${root}/shared/v0:base`), ["v0:base", { value: 0 }]);
      assert.deepEqual(await load(`${root}/shared/v0`), ["v0:base", { value: 0 }], "v0 with only v0:base holding files");
      assert.deepEqual(await load(`${root}/shared/v1:later/`), ["v1:later", { value: 11 }]);
      const opened = await Snapshot.open(`${root}/shared@latest`);
      assert.equal(opened.dirPath, backend.describe("shared/v2:base"));
      assert.deepEqual(
        (await opened.listVersions()).map((v) => v.versionName),
        ["v0:base", "v1", "v1:later", "v2:base"],
      );
    });

    it("names what is missing", async () => {
      const error = await expectCode(Snapshot.open(`${root}/shared@9`), "VERSION_NOT_FOUND");
      assert.match(error.message, /v0, v1, v2/);
      await expectCode(Snapshot.open(`${root}/shared@nope`), "NOT_FOUND");
      await expectCode(Snapshot.open(`${root}/nobody@latest`), "NOT_FOUND");
      await expectCode(Snapshot.open(`${root}/shared/v7`), "VERSION_NOT_FOUND");
      for (const bad of [`${root}/shared@`, `${root}/shared@a/b`, `${root}/sh\u0001ared@latest`, `${root}/shared/notaversion`]) {
        await expectCode(Snapshot.open(bad), "INVALID_ARGUMENT", bad);
      }
    });

    it("a missing tag lists the name's tags, nearest first; @v<N> is pointed to @<N>; a missing name lists the root's", async () => {
      const typo = await expectCode(Snapshot.open(`${root}/shared@latr`), "NOT_FOUND");
      assert.equal(typo.message, `No version of 'shared' at ${root}/shared is tagged 'latr' (its tags: later, base).`);
      const folderSpelling = await expectCode(Snapshot.open(`${root}/shared@v2`), "NOT_FOUND");
      assert.equal(folderSpelling.message, `No version of 'shared' at ${root}/shared is tagged 'v2' (its tags: base, later); to pick version 2, write @2.`);
      for (const selector of ["latest", "base"]) {
        const name = await expectCode(Snapshot.open(`${root}/sahred@${selector}`), "NOT_FOUND");
        assert.equal(name.message, `No version of 'sahred' exists at ${root}/sahred; ${root} holds shared.`);
      }
      const number = await expectCode(Snapshot.open(`${root}/sahred@3`), "VERSION_NOT_FOUND");
      assert.equal(number.message, `Version 3 of 'sahred' does not exist at ${root}/sahred (no version of 'sahred' exists; ${root} holds shared).`);
    });

    it("setup refuses a name starting with \".\" and a tag that @ would read as a number or latest; such folders written before still open by path", async () => {
      for (const name of [".hidden", "...x", ".opencrate"]) {
        const error = await expectCode(Snapshot.setup({ name, backend, console: false }), "INVALID_ARGUMENT", name);
        assert.match(error.message, /may not start with "\."/);
        assert.deepEqual(await collectKeys(backend, `${name}/`), [], name);
      }
      for (const tag of ["5", "007", "latest"]) {
        const error = await expectCode(Snapshot.setup({ name: "selectors", tag, backend, console: false }), "INVALID_ARGUMENT", tag);
        assert.ok(error.message.includes(`@${tag} selects`), error.message);
      }
      assert.deepEqual(await collectKeys(backend, "selectors/"), []);
      for (const tag of ["v5", "5a", "latest2", "Latest"]) {
        const snapshot = await Snapshot.setup({ name: "selectors", tag, backend, console: false });
        assert.equal(snapshot.tag, tag);
        await snapshot.close();
      }

      await backend.put(".hidden/v0/jsons/metrics.json", Buffer.from('{"value":7}'));
      await backend.put("selectors/v9:5/jsons/metrics.json", Buffer.from('{"value":9}'));
      assert.deepEqual(await load(`${root}/.hidden/v0`), ["v0", { value: 7 }]);
      assert.deepEqual(await load(`${root}/.hidden@latest`), ["v0", { value: 7 }]);
      assert.deepEqual(await load(`${root}/selectors/v9:5`), ["v9:5", { value: 9 }]);
      await expectCode(Snapshot.open(`${root}/selectors@5`), "VERSION_NOT_FOUND", "@5 is version 5");
    });

    it("setup resumes an existing folder tagged all digits or latest, and an existing name starting with \".\"; new ones stay refused", async () => {
      // As an older release or Python OpenCrate (which takes any tag) left them.
      await backend.put("older/v3:5/older.log", Buffer.from("earlier run\n"));
      await backend.put("older/v1:latest/older.log", Buffer.from("earlier run\n"));
      await backend.put("older/dev:7/older.log", Buffer.from("earlier run\n"));
      await backend.put(".dotted/v0/.dotted.log", Buffer.from("earlier run\n"));
      const resume = async (options: { name: string; start: number | "last" | "new" | "dev"; tag?: string }): Promise<string> => {
        const snapshot = await Snapshot.setup({ ...options, backend, console: false });
        snapshot.logger.info("resumed");
        const folder = snapshot.versionName;
        await snapshot.close();
        return folder;
      };
      assert.equal(await resume({ name: "older", start: 3, tag: "5" }), "v3:5");
      assert.equal(await resume({ name: "older", start: "last", tag: "5" }), "v3:5");
      assert.equal(await resume({ name: "older", start: 1, tag: "latest" }), "v1:latest");
      assert.equal(await resume({ name: "older", start: "dev", tag: "7" }), "dev:7");
      const history = Buffer.from(await backend.get("older/v3:5/older.history.log")).toString("utf8");
      assert.ok(history.includes("earlier run"), history);
      assert.equal(await resume({ name: ".dotted", start: 0 }), "v0");
      assert.equal(await resume({ name: ".dotted", start: "new" }), "v1");
      const keysBefore = await collectKeys(backend, "older/");
      for (const [label, options] of [
        ["another number with that tag", { start: 1, tag: "5" }],
        ["last, whose folder with that tag is new", { start: "last", tag: "latest" }],
        ["a new version", { start: "new", tag: "5" }],
        ["a new dev folder", { start: "dev", tag: "8" }],
      ] as const) {
        const error = await expectCode(Snapshot.setup({ name: "older", ...options, backend, console: false }), "INVALID_ARGUMENT", label);
        assert.ok(error.message.includes(`@${options.tag} selects`), error.message);
      }
      assert.deepEqual(await collectKeys(backend, "older/"), keysBefore, "a refused setup writes nothing");
      await expectCode(Snapshot.setup({ name: ".fresh", start: "last", backend, console: false }), "INVALID_ARGUMENT", "new dot name");
      assert.deepEqual(await collectKeys(backend, ".fresh/"), []);
    });

    it("refuses every write with READ_ONLY and changes nothing", async () => {
      const keysBefore = await collectKeys(backend, "shared/");
      const snapshot = await Snapshot.open(`${root}/shared@latest`);
      const metrics = snapshot.json("metrics.json");
      const localFile = join(scratch, "x.bin");
      await writeFile(localFile, "x");
      const attempts: [string, () => Promise<unknown>][] = [
        ["save", () => metrics.save({ value: 99 })],
        ["delete", () => metrics.delete({ confirm: true })],
        ["backup", () => metrics.backup("b")],
        ["saveFile", () => snapshot.checkpoint("x.bin").saveFile(localFile)],
        ["saveStream", () => snapshot.checkpoint("x.bin").saveStream(Readable.from([new Uint8Array([1])]))],
        ["custom save", () => snapshot.artifact("notes", "n", { handler: NotesHandler }).save("hi")],
        ["reset", () => snapshot.reset({ confirm: true })],
      ];
      for (const [label, attempt] of attempts) await expectCode(attempt, "READ_ONLY", label);
      assert.deepEqual(await metrics.load(), { value: 2 });
      assert.deepEqual(await collectKeys(backend, "shared/"), keysBefore);
    });

    it("opens a snapshot of any name another tool gave it (Python OpenCrate takes any) by @latest, @N and folder", async () => {
      // A name in a URI with a scheme is %-encoded as its root's path is; a local path takes it as written.
      const inUri = (name: string): string => (/^[a-z0-9]+:\/\//.test(root) ? encodeURIComponent(name) : name);
      for (const [index, name] of PYTHON_NAMES.entries()) {
        await backend.put(`${name}/v0/${name}.log`, Buffer.from(`python run of ${name}\n`));
        await backend.put(`${name}/v0/jsons/metrics.json`, Buffer.from(`{"value":${index}}`));
      }
      for (const [index, name] of PYTHON_NAMES.entries()) {
        const at = `${root}/${inUri(name)}`;
        for (const uri of [`${at}@latest`, `${at}@0`, `${at}/v0`]) {
          const snapshot = await Snapshot.open(uri);
          assert.deepEqual([snapshot.name, snapshot.versionName], [name, "v0"], uri);
          assert.deepEqual(await snapshot.json("metrics.json").load(), { value: index }, uri);
        }
      }
      // Written as they are where the URI syntax allows it.
      assert.equal((await Snapshot.open(`${root}/x@y@latest`)).name, "x@y");
      assert.equal((await Snapshot.open(`${root}/exp:1/v0`)).name, "exp:1");
      assert.equal((await Snapshot.open(`${root}/my run@0`)).name, "my run");
      // `<root>/x@y` reads as the name x with the tag y: the error says how to reach x@y.
      const error = await expectCode(Snapshot.open(`${root}/x@y`), "NOT_FOUND");
      assert.ok(error.message.includes("x@y@latest"), error.message);
      for (const bad of [`${root}/a\u0001b@latest`, `${root}/a\u007fb/v0`, `${root}/..@latest`]) {
        await expectCode(Snapshot.open(bad), "INVALID_ARGUMENT", bad);
      }
    });

    it("setup resumes, and numbers after, an existing snapshot of such a name, and makes no new one", async () => {
      await backend.put("my run/v0/my run.log", Buffer.from("python run\n"));
      const resumed = await Snapshot.setup({ name: "my run", start: "last", backend, console: false });
      resumed.logger.info("typescript resumed");
      assert.equal(resumed.versionName, "v0");
      await resumed.close();
      assert.match(await readText(backend, "my run/v0/my run.history.log"), /^python run\n.*typescript resumed\n$/s);
      const next = await Snapshot.setup({ name: "my run", backend, console: false });
      assert.equal(next.versionName, "v1");
      await next.json("metrics.json").save({ value: 1 });
      await next.close();
      assert.deepEqual(await (await Snapshot.open(`${root}/${/^[a-z0-9]+:\/\//.test(root) ? "my%20run" : "my run"}@latest`)).json("metrics.json").load(), { value: 1 });

      for (const name of ["your run", "résumé-2", "exp:2", "a@b"]) {
        const refused = await expectCode(Snapshot.setup({ name, backend, console: false }), "INVALID_ARGUMENT", name);
        assert.ok(refused.message.includes("a new name takes 1-128 characters"), refused.message);
        assert.deepEqual(await collectKeys(backend, `${name}/`), [], name);
      }
      for (const name of ["a/b", "a\u0001b", "\u00e9".repeat(65)]) {
        await expectCode(Snapshot.setup({ name, backend, console: false }), "INVALID_ARGUMENT", JSON.stringify(name));
      }
    });
  });
}
