/**
 * Backups whose copy lands on the server while its answer is lost, and the reads that would settle it fail too
 * (through the fault proxy): a folder backup leaves nothing under its name, or says which backup is partial when
 * removing it fails as well; a backup repeated under its tag succeeds when the backup there holds the same bytes.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError, type OpenCrateError } from "../../src/errors.ts";
import { Snapshot, type ArtifactStorage } from "../../src/index.ts";
import { collectKeys } from "../support/assertions.ts";
import { startFaultProxy, type FaultKind, type FaultProxy, type RequestLine } from "../support/fault-proxy.ts";
import { cloudTargets, type CloudTarget, type RequestRole } from "./targets.ts";

interface Rule {
  readonly match: (request: RequestLine, role: RequestRole, object: string | undefined) => boolean;
  readonly fault: FaultKind;
  times: number;
}

/** Each request gets the fault of the first rule with faults left that matches it. */
function script(target: CloudTarget, rules: Rule[]): (request: RequestLine) => FaultKind | undefined {
  return (request) => {
    const role = target.roleOf(request);
    const object = target.objectOf(request);
    const rule = rules.find((candidate) => candidate.times > 0 && candidate.match(request, role, object));
    if (rule === undefined) return undefined;
    rule.times -= 1;
    return rule.fault;
  };
}

class FolderHandler {
  declare storage: ArtifactStorage;

  async save(files: Record<string, string>): Promise<void> {
    for (const [name, text] of Object.entries(files)) await this.storage.write(text, name);
  }

  async load(): Promise<string[]> {
    return Promise.all((await this.storage.list()).map((name) => this.storage.readText(name)));
  }
}

async function rejection(promise: Promise<unknown>): Promise<OpenCrateError> {
  try {
    await promise;
  } catch (error) {
    if (isOpenCrateError(error)) return error;
    throw error;
  }
  assert.fail("expected the call to fail");
}

for (const target of cloudTargets()) {
  describe(`backups whose copy's answer was lost on ${target.label}`, { skip: target.skip }, () => {
    const proxies: FaultProxy[] = [];
    const backends: StorageBackend[] = [];
    after(async () => {
      await Promise.all(backends.map((backend) => backend.close()));
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await target.cleanup();
    });

    async function setUp(): Promise<{ clean: StorageBackend; faulty: StorageBackend; proxy: FaultProxy }> {
      const prefix = await target.freshPrefix();
      const proxy = await startFaultProxy({ target: target.endpoint, seed: 1 });
      proxies.push(proxy);
      const clean = target.backend(prefix);
      const faulty = target.backend(prefix, proxy.endpoint);
      backends.push(clean, faulty);
      await faulty.put(".probe-first", "x", { mode: { kind: "create" } });
      return { clean, faulty, proxy };
    }

    /** The copy to a key `isTarget` picks lands but its answer is lost; the reads of that key fail. */
    const lostCopy = (isTarget: (object: string | undefined) => boolean): Rule[] => [
      {
        match: (request, role, object) =>
          isTarget(object) && (role === "multipart-complete" || (target.kind === "gcs" && request.method === "POST")),
        fault: "reset-after",
        times: 1,
      },
      { match: (_request, role, object) => isTarget(object) && role === "read", fault: target.readFault, times: 30 },
    ];

    it("a folder backup removes the copy whose outcome was unknown too, and the same backup can then be made", async () => {
      const { clean, faulty, proxy } = await setUp();
      const snapshot = await Snapshot.setup({ name: "fb", backend: faulty, console: false });
      const bundle = snapshot.artifact("things", "bundle", { handler: FolderHandler });
      await bundle.save({ "a.txt": "A", "b.txt": "B", "c.txt": "C" });
      const rules = lostCopy((object) => object?.endsWith("/bundle.backup_t1/b.txt") === true);
      proxy.setPlan({ decide: script(target, rules) });
      const error = await rejection(bundle.backup("t1"));
      proxy.setPlan({});
      assert.equal(error.code, "TRANSIENT", error.message);
      assert.equal(rules[0]?.times, 0, proxy.describe());
      assert.deepEqual(await collectKeys(clean, "fb/v0/things/bundle.backup_t1/"), [], "no half backup stays");
      assert.deepEqual(await bundle.listBackups(), []);
      assert.equal(await bundle.backup("t1"), "bundle.backup_t1");
      assert.deepEqual(await collectKeys(clean, "fb/v0/things/bundle.backup_t1/"), [
        "fb/v0/things/bundle.backup_t1/a.txt",
        "fb/v0/things/bundle.backup_t1/b.txt",
        "fb/v0/things/bundle.backup_t1/c.txt",
      ]);
      await snapshot.close();
    });

    it("a folder backup that cannot remove what it copied says which backup is partial and where", async () => {
      const { clean, faulty, proxy } = await setUp();
      const snapshot = await Snapshot.setup({ name: "fp", backend: faulty, console: false });
      const bundle = snapshot.artifact("things", "bundle", { handler: FolderHandler });
      await bundle.save({ "a.txt": "A", "b.txt": "B", "c.txt": "C" });
      const rules = [
        ...lostCopy((object) => object?.endsWith("/bundle.backup_t1/b.txt") === true),
        { match: (_request: RequestLine, role: RequestRole) => role === "delete", fault: target.readFault, times: 30 },
      ];
      proxy.setPlan({ decide: script(target, rules) });
      const error = await rejection(bundle.backup("t1"));
      proxy.setPlan({});
      assert.equal(error.code, "TRANSIENT", error.message);
      const location = clean.describe("fp/v0/things/bundle.backup_t1");
      assert.equal(error.path, location);
      assert.ok(error.message.includes(`${location} is a partial backup`), error.message);
      assert.deepEqual(await collectKeys(clean, "fp/v0/things/bundle.backup_t1/"), [
        "fp/v0/things/bundle.backup_t1/a.txt",
        "fp/v0/things/bundle.backup_t1/b.txt",
      ]);
      const taken = await rejection(bundle.backup("t1"));
      assert.equal(taken.code, "ALREADY_EXISTS");
      assert.ok(taken.message.includes("holds only 2 of the 3 objects"), taken.message);
      await snapshot.close();
    });

    for (const tag of ["t1", undefined]) {
      it(`a one-object backup${tag === undefined ? " (untagged)" : ""} whose copy landed unheard says it may have been made${tag === undefined ? "" : ", and repeating it succeeds"}`, async () => {
        const { clean, faulty, proxy } = await setUp();
        const snapshot = await Snapshot.setup({ name: "sb", backend: faulty, console: false });
        const notes = snapshot.text("notes.txt");
        await notes.save("hello");
        const rules = lostCopy((object) => object?.includes("/notes.backup_") === true);
        proxy.setPlan({ decide: script(target, rules) });
        const error = await rejection(notes.backup(tag));
        proxy.setPlan({});
        assert.equal(rules[0]?.times, 0, proxy.describe());
        assert.equal(error.code, "TRANSIENT", error.message);
        assert.ok(error.message.includes("may have been made"), error.message);
        assert.doesNotMatch(error.message, /Nothing is known to have changed/);
        const made = await notes.listBackups();
        assert.equal(made.length, 1, "the copy landed, whole");
        if (tag !== undefined) {
          assert.equal(await notes.backup(tag), "notes.backup_t1.txt");
          assert.deepEqual(await notes.listBackups(), ["notes.backup_t1.txt"]);
          await notes.save("other");
          assert.equal((await rejection(notes.backup(tag))).code, "ALREADY_EXISTS");
          assert.equal(await snapshot.text("notes.backup_t1.txt").load(), "hello");
        }
        assert.ok(made.every((name) => name.startsWith("notes.backup_")));
        assert.equal((await collectKeys(clean, "sb/v0/texts/")).length, 2);
        await snapshot.close();
      });
    }
  });
}
