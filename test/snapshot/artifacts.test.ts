/** The shared Artifact behaviour over every backend: paths, verbose lines, backups, delete, streaming, custom types. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { ArtifactStorage } from "../../src/index.ts";
import { Snapshot } from "../../src/index.ts";
import { AlreadyExistsError, TransientError } from "../../src/errors.ts";
import { useClock } from "../../src/clock.ts";
import { allBackendFactories } from "../support/backends.ts";
import { collectKeys, expectCode, readText } from "../support/assertions.ts";
import { ManualClock } from "../support/manual-clock.ts";
import { withWriteTimesFrom } from "../support/write-times.ts";

class LinesHandler {
  declare storage: ArtifactStorage;
  declare path: string;
  declare name: string;
  declare snapshotType: string;
  declare verbose: boolean;

  async save(lines: string[]): Promise<void> {
    const index = (await this.storage.list()).length;
    await this.storage.write(lines.join("\n"), `part_${index}.txt`);
  }

  async load(): Promise<string[][]> {
    const parts = await this.storage.list();
    return Promise.all(parts.map(async (part) => (await this.storage.readText(part)).split("\n")));
  }

  count(): Promise<number> {
    return this.storage.list().then((parts) => parts.length);
  }

  describeSelf(): string {
    return `${this.snapshotType}:${this.name}:${String(this.verbose)}`;
  }
}

/** Stores its data as a folder of shards; each save replaces every shard. */
class ShardsHandler {
  declare storage: ArtifactStorage;

  async save(shards: string[]): Promise<void> {
    await this.storage.delete("", { recursive: true });
    for (const [index, shard] of shards.entries()) await this.storage.write(shard, `shard-${index}.txt`);
  }

  async load(): Promise<string[]> {
    return Promise.all((await this.storage.list()).map((part) => this.storage.readText(part)));
  }
}

for (const factory of allBackendFactories()) {
  describe(`artifacts on ${factory.label}`, { skip: factory.skip }, () => {
    let backend: StorageBackend;
    let snapshot: Snapshot;
    let scratch: string;
    before(async () => {
      backend = await factory.make();
      snapshot = await Snapshot.setup({ name: "arts", tag: "t", backend, console: false });
      scratch = await mkdtemp(join(tmpdir(), "opencrate-artifacts-"));
    });
    after(async () => {
      await snapshot.close();
      await rm(scratch, { recursive: true, force: true });
      await factory.cleanup();
    });

    it("stores built-in types under <type>s/ and logs verbose lines", async () => {
      const data = snapshot.json("data.json", { verbose: true });
      assert.equal(data.path, backend.describe("arts/v0:t/jsons/data.json"));
      assert.equal(data.snapshotType, "json");
      assert.equal(await data.exists(), false);
      await data.save({ array: [10, 20, 30] });
      assert.equal(await data.exists(), true);
      assert.deepEqual(await data.load(), { array: [10, 20, 30] });
      await snapshot.flush();
      const log = await readText(backend, "arts/v0:t/arts.log");
      assert.match(log, new RegExp(`INFO     ✓ 'data.json' of 'json' saved successfully at '${escape(data.path)}'\\.`));
      assert.match(log, new RegExp(`INFO     ✓ 'data.json' of 'json' loaded successfully from '${escape(data.path)}'\\.`));
    });

    it("keeps subfolders in artifact names and rejects names that escape the snapshot", async () => {
      await snapshot.text("nested/deeper/note.txt").save("hi");
      assert.equal(await readText(backend, "arts/v0:t/texts/nested/deeper/note.txt"), "hi");
      for (const bad of ["../x.json", "/abs.json", "a//b.json", "a/../../b.json", "", "."]) {
        await expectCode(() => snapshot.json(bad), "INVALID_ARGUMENT", bad);
      }
      assert.deepEqual(await collectKeys(backend, "arts/x.json"), []);
      assert.deepEqual(await collectKeys(backend, "abs.json"), []);
    });

    it("load of a missing artifact is NOT_FOUND naming the path", async () => {
      const missing = snapshot.yaml("missing.yaml");
      const error = await expectCode(missing.load(), "NOT_FOUND");
      assert.ok(error.message.includes(missing.path), error.message);
    });

    it("backups never replace one another and list oldest first", async () => {
      const time = new ManualClock(new Date(2026, 11, 3, 12, 35, 55, 400));
      const timed = await Snapshot.setup({ name: "arts-backups", tag: "t", backend: withWriteTimesFrom(backend, time), console: false });
      const restoreClock = useClock(time);
      try {
        const model = timed.checkpoint("model.bin");
        assert.equal(await model.backup("nothing-yet"), undefined, "nothing to back up");
        await model.save(new Uint8Array([1, 2, 3]));
        assert.equal(await model.backup("zz-first"), "model.backup_zz-first.bin");
        time.advance(1000);
        await model.save(new Uint8Array([4, 5, 6]));
        assert.equal(await model.backup("aa-second"), "model.backup_aa-second.bin");
        const taken = await expectCode(model.backup("zz-first"), "ALREADY_EXISTS", "a tag holding other bytes");
        assert.ok(taken.message.includes("model.backup_zz-first.bin"), taken.message);
        assert.deepEqual(await timed.checkpoint("model.backup_zz-first.bin").load(), new Uint8Array([1, 2, 3]));
        assert.equal(await model.backup("aa-second"), "model.backup_aa-second.bin", "a tag holding the same bytes: the backup is there");
        await expectCode(model.backup("bad/tag"), "INVALID_ARGUMENT");

        // An untagged backup is named after the clock's second; when that name is taken it adds -2, then -3.
        time.advance(1000);
        assert.equal(await model.backup(), "model.backup_12:35:57_03-Dec-2026.bin");
        time.advance(500);
        assert.equal(await model.backup(), "model.backup_12:35:57_03-Dec-2026-2.bin", "a second backup in the same second");
        assert.equal(await model.backup(), "model.backup_12:35:57_03-Dec-2026-3.bin");
        time.advance(100);
        assert.equal(await model.backup(), "model.backup_12:35:58_03-Dec-2026.bin", "the next second starts again");
        assert.deepEqual(await model.listBackups(), [
          "model.backup_zz-first.bin",
          "model.backup_aa-second.bin",
          "model.backup_12:35:57_03-Dec-2026.bin",
          "model.backup_12:35:57_03-Dec-2026-2.bin",
          "model.backup_12:35:57_03-Dec-2026-3.bin",
          "model.backup_12:35:58_03-Dec-2026.bin",
        ]);
      } finally {
        restoreClock();
        await timed.close();
      }
    });

    it("backups taken in one second list in the order they were made", async () => {
      const time = new ManualClock(new Date(2026, 11, 3, 9, 5, 7, 0));
      const timed = await Snapshot.setup({ name: "arts-ties", backend: withWriteTimesFrom(backend, time), console: false });
      const restoreClock = useClock(time);
      try {
        const model = timed.checkpoint("model.bin");
        await model.save(new Uint8Array([1]));
        const made: (string | undefined)[] = [];
        for (let index = 0; index < 11; index++) made.push(await model.backup());
        assert.equal(made[0], "model.backup_09:05:07_03-Dec-2026.bin");
        assert.equal(made[10], "model.backup_09:05:07_03-Dec-2026-11.bin");
        assert.deepEqual(await model.listBackups(), made);
      } finally {
        restoreClock();
        await timed.close();
      }
    });

    it("lists exactly the backups backup() names for the artifact, dotted tags on extensionless names too", async () => {
      const readme = snapshot.text("README");
      await readme.save("read me");
      assert.equal(await readme.backup("v1.2"), "README.backup_v1.2");
      const markdown = snapshot.text("README.md");
      await markdown.save("# read me");
      assert.equal(await markdown.backup("v1"), "README.backup_v1.md");
      assert.equal(await readme.backup("v2"), "README.backup_v2");
      assert.deepEqual((await readme.listBackups()).sort(), ["README.backup_v1.2", "README.backup_v2"]);
      assert.deepEqual(await markdown.listBackups(), ["README.backup_v1.md"]);
      // An empty label, or something below a built-in's name, is no backup; a free-form tag Python OpenCrate allows is.
      await backend.put("arts/v0:t/texts/README.backup_", "x");
      await backend.put("arts/v0:t/texts/README.backup_v3/inside.txt", "x");
      await backend.put("arts/v0:t/texts/README.backup_epoch 5", "x");
      assert.deepEqual((await readme.listBackups()).sort(), ["README.backup_epoch 5", "README.backup_v1.2", "README.backup_v2"]);

      const bundle = snapshot.artifact("sharded", "bundle", { handler: ShardsHandler });
      await bundle.save(["a", "b"]);
      assert.equal(await bundle.backup("v1.2"), "bundle.backup_v1.2");
      assert.deepEqual(await bundle.listBackups(), ["bundle.backup_v1.2"]);
    });

    it("delete needs confirm, and a missing artifact deletes nothing quietly", async () => {
      const doomed = snapshot.text("doomed.txt");
      await doomed.delete();
      await doomed.save("bye");
      await expectCode(doomed.delete(), "CONFIRMATION_REQUIRED");
      assert.equal(await doomed.exists(), true);
      await doomed.delete({ confirm: true });
      assert.equal(await doomed.exists(), false);
    });

    it("a built-in artifact is only its object: a name that is a folder of other artifacts is not there", async () => {
      await snapshot.json("sub/dir/x.json").save([1]);
      assert.equal(await snapshot.json("sub/dir/x.json").backup("important"), "x.backup_important.json");
      await snapshot.json("sub/y.json").save([2]);
      const before = await collectKeys(backend, "arts/v0:t/jsons/");
      const ghost = snapshot.json("sub");
      await expectCode(ghost.load(), "NOT_FOUND");
      assert.equal(await ghost.exists(), false);
      assert.equal(await ghost.storage.exists(), false);
      assert.equal(await ghost.backup(), undefined, "nothing to back up");
      assert.equal(await ghost.backup("tagged"), undefined, "nothing to back up");
      assert.deepEqual(await ghost.listBackups(), []);
      await ghost.delete({ confirm: true });
      assert.deepEqual(await collectKeys(backend, "arts/v0:t/jsons/"), before, "nothing below 'sub' was copied or deleted");
      assert.deepEqual(await snapshot.json("sub/dir/x.json").load(), [1]);
      assert.deepEqual(await snapshot.json("sub/y.json").load(), [2]);
    });

    it("streams files in and out", async () => {
      const source = join(scratch, "weights.bin");
      const bytes = Buffer.alloc(3 * 1024 * 1024 + 7, 0);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
      await writeFile(source, bytes);
      const weights = snapshot.checkpoint("weights.bin");
      await weights.saveFile(source);
      const target = join(scratch, "out", "weights.bin");
      await weights.downloadTo(target);
      assert.ok((await readFile(target)).equals(bytes));
      const missingFile = join(scratch, "no-such-file.bin");
      const error = await expectCode(snapshot.checkpoint("never.bin").saveFile(missingFile), "INVALID_ARGUMENT");
      assert.ok(error.message.includes(missingFile), error.message);
      assert.equal(await snapshot.checkpoint("never.bin").exists(), false);
      const streamed = snapshot.checkpoint("streamed.bin");
      await streamed.saveStream(Readable.from([bytes.subarray(0, 10), bytes.subarray(10)]));
      const chunks: Buffer[] = [];
      for await (const chunk of await streamed.openRead()) chunks.push(chunk as Buffer);
      assert.ok(Buffer.concat(chunks).equals(bytes));
    });

    it("a caller stream that throws in saveStream is INVALID_ARGUMENT with the caller's error as cause; the old content stays", async () => {
      const model = snapshot.checkpoint("stream-fails.bin");
      await model.save(new Uint8Array([7, 7, 7]));
      const broken = new Error("the caller's stream broke");
      async function* body(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(64 * 1024);
        throw broken;
      }
      const error = await expectCode(model.saveStream(body()), "INVALID_ARGUMENT");
      assert.equal(error.cause, broken);
      assert.ok(error.message.includes(model.path), error.message);
      assert.deepEqual(await model.load(), new Uint8Array([7, 7, 7]));
    });

    it("custom handlers get path, name, type, verbose and scoped storage, and expose their own methods", async () => {
      const lines = snapshot.artifact("labels", "boxes", { handler: LinesHandler, verbose: true });
      assert.equal(lines.path, backend.describe("arts/v0:t/labels/boxes"));
      assert.equal(lines.describeSelf(), "labels:boxes:true");
      await lines.save(["a", "b"]);
      await lines.save(["c"]);
      assert.equal(await lines.count(), 2);
      assert.deepEqual(await lines.load(), [["a", "b"], ["c"]]);
      assert.deepEqual(await collectKeys(backend, "arts/v0:t/labels/"), [
        "arts/v0:t/labels/boxes/part_0.txt",
        "arts/v0:t/labels/boxes/part_1.txt",
      ]);
      await expectCode(lines.delete(), "CONFIRMATION_REQUIRED");
      await lines.delete({ confirm: true });
      assert.deepEqual(await collectKeys(backend, "arts/v0:t/labels/"), []);
    });

    it("a folder-like custom artifact is backed up whole, and the backup outlives the next save", async () => {
      const shards = snapshot.artifact("sharded", "model.shards", { handler: ShardsHandler });
      assert.equal(await shards.backup("nothing-yet"), undefined, "nothing to back up");
      await shards.save(["a", "b", "c"]);
      assert.equal(await shards.backup("first"), "model.backup_first.shards");
      const again = await expectCode(shards.backup("first"), "ALREADY_EXISTS", "a folder backup is never taken as this call's own");
      assert.ok(again.message.includes("holding the artifact's objects as they are now"), again.message);
      await shards.save(["x"]);
      await expectCode(shards.backup("first"), "ALREADY_EXISTS", "other objects");
      await shards.save(["a", "b", "z"]);
      await expectCode(shards.backup("first"), "ALREADY_EXISTS", "one object's bytes differ");
      await shards.save(["a", "b", "c", "d"]);
      await expectCode(shards.backup("first"), "ALREADY_EXISTS", "an object more than the backup holds");
      await shards.save(["x"]);
      assert.deepEqual(await shards.load(), ["x"]);
      assert.deepEqual(await snapshot.artifact("sharded", "model.backup_first.shards", { handler: ShardsHandler }).load(), ["a", "b", "c"]);
      assert.equal(await shards.backup("second"), "model.backup_second.shards");
      const untagged = await shards.backup();
      assert.match(untagged ?? "", /^model\.backup_\d\d:\d\d:\d\d_\d\d-[A-Z][a-z]{2}-\d{4}\.shards$/);
      assert.deepEqual((await shards.listBackups()).sort(), ["model.backup_first.shards", "model.backup_second.shards", untagged].sort());
      assert.deepEqual(await collectKeys(backend, "arts/v0:t/sharded/model.backup_first.shards/"), [
        "arts/v0:t/sharded/model.backup_first.shards/shard-0.txt",
        "arts/v0:t/sharded/model.backup_first.shards/shard-1.txt",
        "arts/v0:t/sharded/model.backup_first.shards/shard-2.txt",
      ]);
      await shards.delete({ confirm: true });
      assert.equal(await shards.exists(), false);
      assert.equal((await shards.listBackups()).length, 3, "deleting the artifact keeps its backups");
    });

    it("a folder backup whose shard vanishes mid-copy fails PRECONDITION_FAILED and leaves no half backup", async () => {
      const vanishing = new Proxy(backend, {
        get(target, property) {
          if (property === "copy") {
            return async (from: string, to: string, options?: Parameters<StorageBackend["copy"]>[2]) => {
              if (from.endsWith("/shard-1.txt")) await target.delete(from);
              return target.copy(from, to, options);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const racing = await Snapshot.setup({ name: "arts-racy", backend: vanishing, console: false });
      try {
        const shards = racing.artifact("sharded", "racy.shards", { handler: ShardsHandler });
        await shards.save(["a", "b", "c"]);
        const error = await expectCode(shards.backup("mid"), "PRECONDITION_FAILED");
        assert.ok(error.message.includes("shard-1.txt"), error.message);
      } finally {
        await racing.close();
      }
      assert.deepEqual(await collectKeys(backend, "arts-racy/v0/sharded/racy.backup_mid.shards/"), []);
    });

    /** `backend` whose copies to a key `lost` picks land but then fail TRANSIENT, as when their answer is lost. */
    function losingCopies(lost: (to: string) => boolean, failDeletes: () => boolean = () => false): StorageBackend {
      return new Proxy(backend, {
        get(target, property) {
          if (property === "copy") {
            return async (from: string, to: string, options?: Parameters<StorageBackend["copy"]>[2]) => {
              const info = await target.copy(from, to, options);
              if (lost(to)) throw new TransientError(`injected: the answer to the copy to ${to} was lost`);
              return info;
            };
          }
          if (property === "deleteMany" || property === "delete") {
            return async (keys: never) => {
              if (failDeletes()) throw new TransientError("injected: the store refuses deletes for now");
              return (target[property] as (keys: never) => Promise<void>)(keys);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    }

    it("a folder backup whose copy landed with its answer lost removes that copy too, so the same backup can be repeated", async () => {
      const faulty = await Snapshot.setup({ name: "arts-lost", backend: losingCopies((to) => to.endsWith(".backup_t1.shards/shard-1.txt")), console: false });
      try {
        const shards = faulty.artifact("sharded", "lost.shards", { handler: ShardsHandler });
        await shards.save(["a", "b", "c"]);
        await expectCode(shards.backup("t1"), "TRANSIENT");
        assert.deepEqual(await collectKeys(backend, "arts-lost/v0/sharded/lost.backup_t1.shards/"), [], "no half backup stays");
        assert.deepEqual(await shards.listBackups(), []);
      } finally {
        await faulty.close();
      }
      const clean = await Snapshot.setup({ name: "arts-lost", backend, start: "last", console: false });
      try {
        const shards = clean.artifact("sharded", "lost.shards", { handler: ShardsHandler });
        assert.equal(await shards.backup("t1"), "lost.backup_t1.shards");
        assert.deepEqual(await clean.artifact("sharded", "lost.backup_t1.shards", { handler: ShardsHandler }).load(), ["a", "b", "c"]);
        assert.deepEqual(await shards.listBackups(), ["lost.backup_t1.shards"]);
      } finally {
        await clean.close();
      }
    });

    it("an untagged folder backup meeting another backup's object and unable to remove its own copies reports the partial backup", async () => {
      let refuse = false;
      const raced = new Proxy(backend, {
        get(target, property) {
          if (property === "copy") {
            return async (from: string, to: string, options?: Parameters<StorageBackend["copy"]>[2]) => {
              // Another backup of the same second takes shard-1's name between this one's check and its copy.
              if (to.endsWith("shard-1.txt") && !refuse) {
                refuse = true;
                throw new AlreadyExistsError(`injected: ${to} already exists`);
              }
              return target.copy(from, to, options);
            };
          }
          if (property === "deleteMany" || property === "delete") {
            return async (keys: never) => {
              if (refuse) throw new TransientError("injected: the store refuses deletes for now");
              return (target[property] as (keys: never) => Promise<void>)(keys);
            };
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const faulty = await Snapshot.setup({ name: "arts-raced", backend: raced, console: false });
      try {
        const shards = faulty.artifact("sharded", "raced.shards", { handler: ShardsHandler });
        await shards.save(["a", "b", "c"]);
        const error = await expectCode(shards.backup(), "TRANSIENT");
        assert.ok(error.message.includes("is a partial backup") && error.message.includes("delete everything below"), error.message);
        assert.match(String(error.path), /raced\.backup_[^/]+\.shards$/);
      } finally {
        refuse = false;
        await faulty.close();
      }
    });

    it("a folder backup that cannot remove what it copied says which backup is partial, and the tag then stays taken", async () => {
      let refuse = false;
      const faulty = await Snapshot.setup({
        name: "arts-partial",
        backend: losingCopies((to) => to.endsWith(".backup_t1.shards/shard-1.txt"), () => refuse),
        console: false,
      });
      try {
        const shards = faulty.artifact("sharded", "part.shards", { handler: ShardsHandler });
        await shards.save(["a", "b", "c"]);
        refuse = true;
        const error = await expectCode(shards.backup("t1"), "TRANSIENT");
        refuse = false;
        const location = backend.describe("arts-partial/v0/sharded/part.backup_t1.shards");
        assert.equal(error.path, location);
        assert.ok(error.message.includes(`${location} is a partial backup`) && error.message.includes("delete everything below"), error.message);
        assert.deepEqual(await shards.listBackups(), ["part.backup_t1.shards"], "listed until it is deleted");
        const taken = await expectCode(shards.backup("t1"), "ALREADY_EXISTS");
        assert.ok(taken.message.includes("holds only 2 of the 3 objects"), taken.message);
      } finally {
        await faulty.close();
      }
    });

    it("a backup whose copy landed with its answer lost can be repeated under its tag: the backup there is the same", async () => {
      const faulty = await Snapshot.setup({ name: "arts-single", backend: losingCopies((to) => to.includes(".backup_")), console: false });
      try {
        const notes = faulty.text("notes.txt");
        await notes.save("hello");
        const error = await expectCode(notes.backup("t1"), "TRANSIENT");
        assert.ok(error.message.includes("may have been made"), error.message);
      } finally {
        await faulty.close();
      }
      const clean = await Snapshot.setup({ name: "arts-single", backend, start: "last", console: false });
      try {
        const notes = clean.text("notes.txt");
        assert.equal(await notes.backup("t1"), "notes.backup_t1.txt");
        assert.deepEqual(await notes.listBackups(), ["notes.backup_t1.txt"]);
        await notes.save("hello again");
        await expectCode(notes.backup("t1"), "ALREADY_EXISTS", "the artifact has changed since");
        await notes.save("jello");
        await expectCode(notes.backup("t1"), "ALREADY_EXISTS", "the same size, other bytes");
        assert.equal(await clean.text("notes.backup_t1.txt").load(), "hello");
      } finally {
        await clean.close();
      }
    });

    it("rejects bad custom types and handler classes", async () => {
      class NoLoad {
        save(): void {}
      }
      await expectCode(
        () => snapshot.artifact("things", "x", { handler: NoLoad as unknown as typeof LinesHandler }),
        "INVALID_ARGUMENT",
      );
      await expectCode(() => snapshot.artifact("a/b", "x", { handler: LinesHandler }), "INVALID_ARGUMENT");
      await expectCode(() => snapshot.artifact("..", "x", { handler: LinesHandler }), "INVALID_ARGUMENT");
      await expectCode(() => snapshot.artifact("json", "x", { handler: LinesHandler }), "INVALID_ARGUMENT");
      await expectCode(() => snapshot.artifact("jsons", "x", { handler: LinesHandler }), "INVALID_ARGUMENT", "a built-in folder");
      // A case-insensitive disk (macOS, Windows) would put these in the built-in folder itself.
      for (const type of ["JSONS", "Jsons", "Checkpoints", "TEXTS"]) {
        const error = await expectCode(() => snapshot.artifact(type, "x", { handler: LinesHandler }), "INVALID_ARGUMENT", type);
        assert.ok(error.message.includes(`'${type}'`) && error.message.includes(`'${type.toLowerCase()}'`), error.message);
      }
      assert.deepEqual(await collectKeys(backend, "arts/v0/JSONS/"), []);
      assert.equal(snapshot.artifact("JSON", "x", { handler: LinesHandler }).snapshotType, "JSON", "a type name, not a folder");
      await expectCode(() => snapshot.artifact("things", "../x", { handler: LinesHandler }), "INVALID_ARGUMENT");
    });

    it("refuses a custom type named like the run's log files, which would put a folder beside the log", async () => {
      await snapshot.flush();
      const before = await collectKeys(backend, "arts/");
      for (const type of ["arts.log", "arts.history.log", "arts.rank1.log", "arts.rank12.history.log", "ARTS.Log"]) {
        const error = await expectCode(() => snapshot.artifact(type, "x.txt", { handler: LinesHandler }), "INVALID_ARGUMENT", type);
        assert.match(error.message, /log/, type);
      }
      assert.deepEqual(await collectKeys(backend, "arts/"), before);
      for (const type of ["arts.logs", "other.log", "arts.rank.log", "arts"]) {
        assert.equal(snapshot.artifact(type, "x.txt", { handler: LinesHandler }).snapshotType, type, type);
      }
    });

    it("rejects handlers that are not classes with save and load, naming the type and writing nothing", async () => {
      class OnlyLoad {
        load(): string {
          return "never";
        }
      }
      const methods = {
        save: (): void => {},
        load: (): string => "never",
      };
      const cases: [string, unknown][] = [
        ["a class without save", OnlyLoad],
        ["a plain object with save and load", methods],
        ["an arrow function", () => methods],
        ["an arrow function carrying save and load", Object.assign(() => methods, methods)],
      ];
      await snapshot.flush();
      const before = await collectKeys(backend, "arts/");
      for (const [label, handler] of cases) {
        const error = await expectCode(
          () => snapshot.artifact("widgets", "w.bin", { handler: handler as typeof LinesHandler, verbose: true }),
          "INVALID_ARGUMENT",
          label,
        );
        assert.match(error.message, /'widgets'/, label);
        assert.match(error.message, /save\(\) and load\(\)/, label);
      }
      await snapshot.flush();
      assert.deepEqual(await collectKeys(backend, "arts/v0:t/widgets/"), []);
      assert.deepEqual(await collectKeys(backend, "arts/"), before);
      assert.doesNotMatch(await readText(backend, "arts/v0:t/arts.log"), /widgets/);
    });
  });
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
