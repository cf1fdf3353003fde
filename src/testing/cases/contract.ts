/**
 * The checking layer's answers: bad input, capabilities a store lacks and aborted signals get the same code on
 * every backend, before anything is written.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackendCapabilities, StorageBackend, WriteMode } from "../../backends/backend.ts";
import { CheckedBackend, checkedBackend } from "../../backends/layers/checked.ts";
import type { ConformanceFixture } from "../fixture.ts";
import { isCausedBy, listKeys, MiB, readText, rejectsWithCode } from "../helpers.ts";

/** Inputs to `put` that every backend must answer alike. */
const BAD_PUTS: ReadonlyArray<{ readonly name: string; readonly options: object }> = [
  { name: "an unknown mode kind", options: { mode: { kind: "bogus" } } },
  { name: "replace without a revision", options: { mode: { kind: "replace" } } },
  { name: "replace with an empty revision", options: { mode: { kind: "replace", revision: "" } } },
  { name: "a mode that is not an object", options: { mode: "create" } },
  { name: "a metadata key with a space", options: { metadata: { "Bad Key": "x" } } },
  { name: "an upper-case metadata key", options: { metadata: { Owner: "x" } } },
  { name: "a metadata value with a newline", options: { metadata: { owner: "a\nb" } } },
  { name: "a metadata value that is not a string", options: { metadata: { owner: 3 } } },
  { name: "a signal that is not an AbortSignal", options: { signal: { aborted: false } } },
  { name: "a content type that is not a string", options: { contentType: 7 } },
];

const BAD_STREAM_OPTIONS: ReadonlyArray<{ readonly name: string; readonly options: object }> = [
  { name: "partSize 0", options: { partSize: 0 } },
  { name: "a fractional partSize", options: { partSize: 1.5 } },
  { name: "concurrency 0", options: { concurrency: 0 } },
  { name: "a negative size", options: { size: -1 } },
  { name: "onProgress that is not a function", options: { onProgress: "yes" } },
];

/** `backend` as seen by the checking layer, claiming fewer capabilities than it has. */
function withCapabilities(checked: StorageBackend, limited: Partial<BackendCapabilities>): StorageBackend {
  const backend = checked instanceof CheckedBackend ? checked.inner : checked;
  const capabilities = { ...backend.capabilities, ...limited };
  return checkedBackend(
    new Proxy(backend, {
      get(target, property) {
        if (property === "capabilities") return capabilities;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    }),
  );
}

async function* bytes(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text);
}

function abortedSignal(): AbortSignal {
  const controller = new AbortController();
  controller.abort(new Error("stop"));
  return controller.signal;
}

export function contractCases(fixture: ConformanceFixture): void {
  fixture.it("bad write options are INVALID_ARGUMENT on put, putStream and putFile, and write nothing", async (backend) => {
    for (const { name, options } of BAD_PUTS) {
      await rejectsWithCode(backend.put("bad/put.txt", "x", options), "INVALID_ARGUMENT", `put with ${name}`);
      await rejectsWithCode(backend.putStream("bad/stream.txt", bytes("x"), options), "INVALID_ARGUMENT", `putStream with ${name}`);
    }
    for (const { name, options } of BAD_STREAM_OPTIONS) {
      await rejectsWithCode(backend.putStream("bad/stream.txt", bytes("x"), options), "INVALID_ARGUMENT", `putStream with ${name}`);
    }
    await rejectsWithCode(backend.put("bad/put.txt", 42 as unknown as string), "INVALID_ARGUMENT", "put of a number");
    await rejectsWithCode(backend.putStream("bad/stream.txt", "text" as unknown as AsyncIterable<Uint8Array>), "INVALID_ARGUMENT", "putStream of a string");
    assert.deepEqual(await listKeys(backend, ""), [], "nothing was written");
  });

  fixture.it("bad copy modes, append revisions, listing prefixes and page sizes are INVALID_ARGUMENT", async (backend) => {
    await backend.put("good/source.txt", "source");
    await rejectsWithCode(backend.copy("good/source.txt", "good/copy.txt", { mode: { kind: "replace", revision: "1" } }), "INVALID_ARGUMENT", "copy with replace");
    await rejectsWithCode(backend.copy("good/source.txt", "good/copy.txt", { mode: { kind: "bogus" } as unknown as WriteMode }), "INVALID_ARGUMENT", "copy with a bogus mode");
    if (backend.append !== undefined) {
      await rejectsWithCode(backend.append("good/source.txt", Buffer.from("x"), { ifRevision: "" }), "INVALID_ARGUMENT", "append with an empty ifRevision");
      await rejectsWithCode(backend.append("good/source.txt", Buffer.from("x"), { metadata: { "Bad Key": "x" } }), "INVALID_ARGUMENT", "append with bad metadata");
    }
    await rejectsWithCode(backend.listPage("good"), "INVALID_ARGUMENT", "listPage of a prefix without a trailing /");
    await rejectsWithCode(backend.listPage("good/", { pageSize: 0 }), "INVALID_ARGUMENT", "listPage with pageSize 0");
    await rejectsWithCode(backend.listPage("", { pageSize: 2.5 }), "INVALID_ARGUMENT", "listPage with a fractional pageSize");
    await rejectsWithCode(listKeys(backend, "../"), "INVALID_ARGUMENT", "list under ../");
    await rejectsWithCode(async () => {
      for await (const _ of backend.list("good/", { pageSize: -1 })) break;
    }, "INVALID_ARGUMENT", "list with a negative pageSize");
    assert.deepEqual(await listKeys(backend, ""), ["good/source.txt"], "nothing else was written");
  });

  fixture.it("deleteMany checks every key before deleting any", async (backend) => {
    await backend.put("keep/a.txt", "a");
    await backend.put("keep/b.txt", "b");
    await rejectsWithCode(backend.deleteMany(["keep/a.txt", "keep/b.txt", "../escape"]), "INVALID_ARGUMENT", "deleteMany with a bad last key");
    async function* keys(): AsyncGenerator<string> {
      yield "keep/a.txt";
      yield "a//b";
    }
    await rejectsWithCode(backend.deleteMany(keys()), "INVALID_ARGUMENT", "deleteMany of an async iterable with a bad key");
    assert.deepEqual(await listKeys(backend, ""), ["keep/a.txt", "keep/b.txt"], "no key was deleted");
  });

  fixture.it("what capabilities rule out is NOT_SUPPORTED before any I/O", async (backend) => {
    await backend.put("caps/source.txt", "source");
    const info = await backend.head("caps/source.txt");
    const noCreate = withCapabilities(backend, { createOnly: false });
    await rejectsWithCode(noCreate.put("caps/new.txt", "x", { mode: { kind: "create" } }), "NOT_SUPPORTED", "put create without createOnly");
    await rejectsWithCode(noCreate.putStream("caps/new.txt", bytes("x"), { mode: { kind: "create" } }), "NOT_SUPPORTED", "putStream create without createOnly");
    const noSwap = withCapabilities(backend, { compareAndSwap: false });
    await rejectsWithCode(noSwap.put("caps/source.txt", "y", { mode: { kind: "replace", revision: info.revision } }), "NOT_SUPPORTED", "put replace without compareAndSwap");
    if (noSwap.append !== undefined) {
      await rejectsWithCode(noSwap.append("caps/source.txt", Buffer.from("y"), { ifRevision: info.revision }), "NOT_SUPPORTED", "append ifRevision without compareAndSwap");
    }
    const noCopyCreate = withCapabilities(backend, { copyCreateOnly: false });
    await rejectsWithCode(noCopyCreate.copy("caps/source.txt", "caps/copy.txt", { mode: { kind: "create" } }), "NOT_SUPPORTED", "copy create without copyCreateOnly");
    const noConditionalDelete = withCapabilities(backend, { conditionalDelete: false });
    await rejectsWithCode(noConditionalDelete.delete("caps/source.txt", { ifRevision: info.revision }), "NOT_SUPPORTED", "delete ifRevision without conditionalDelete");
    await rejectsWithCode(backend.delete("caps/source.txt", { ifRevision: "" }), "INVALID_ARGUMENT", "delete with an empty ifRevision");
    assert.deepEqual(await listKeys(backend, ""), ["caps/source.txt"], "nothing was written");
    assert.equal(await readText(backend, "caps/source.txt"), "source", "the object is unchanged");
  });

  fixture.it("a signal aborted before the call is ABORTED on every method, naming the key, and writes nothing", async (backend) => {
    await backend.put("abort/source.txt", "source");
    const signal = abortedSignal();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["head", () => backend.head("abort/source.txt", { signal })],
      ["get", () => backend.get("abort/source.txt", { signal })],
      ["getStream", () => backend.getStream("abort/source.txt", { signal })],
      ["put", () => backend.put("abort/new.txt", "x", { signal })],
      ["putStream", () => backend.putStream("abort/new.txt", bytes("x"), { signal })],
      ["copy", () => backend.copy("abort/source.txt", "abort/copy.txt", { signal })],
      ["listPage", () => backend.listPage("abort/", { signal })],
      ["list", () => listKeysWith(backend, "abort/", signal)],
    ];
    if (backend.append !== undefined) calls.push(["append", () => backend.append!("abort/source.txt", Buffer.from("y"), { signal })]);
    const folder = await mkdtemp(join(tmpdir(), "opencrate-conformance-"));
    const file = join(folder, "body.txt");
    await writeFile(file, "from a file");
    if (backend.putFile !== undefined) calls.push(["putFile", () => backend.putFile!("abort/new.txt", file, { signal })]);
    try {
      await expectAborted(calls, signal);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    assert.deepEqual(await listKeys(backend, ""), ["abort/source.txt"], "nothing was written");
    assert.equal(await readText(backend, "abort/source.txt"), "source");
  });

  fixture.it("a signal aborted while a stream above the multipart threshold is written is ABORTED and leaves the old object", async (backend) => {
    await backend.put("abort/large.bin", "old");
    const threshold = backend.capabilities.multipartThreshold ?? 8 * MiB;
    const controller = new AbortController();
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let sent = 0; sent <= threshold; sent += MiB) yield Buffer.alloc(MiB, 3);
      controller.abort(new Error("caller stopped"));
      yield Buffer.alloc(MiB, 4);
    }
    await rejectsWithCode(backend.putStream("abort/large.bin", body(), { signal: controller.signal }), "ABORTED", "putStream aborted past the threshold");
    assert.equal(await readText(backend, "abort/large.bin"), "old", "the old object is intact");
    assert.deepEqual(await listKeys(backend, "abort/"), ["abort/large.bin"], "no other object appeared");
  });

  fixture.it("a signal aborted while a stream is written is ABORTED and leaves the old object", async (backend) => {
    await backend.put("abort/target.bin", "old");
    const controller = new AbortController();
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(64 * 1024, 1);
      controller.abort(new Error("caller stopped"));
      yield Buffer.alloc(64 * 1024, 2);
    }
    await rejectsWithCode(backend.putStream("abort/target.bin", body(), { signal: controller.signal }), "ABORTED", "putStream aborted midway");
    assert.equal(await readText(backend, "abort/target.bin"), "old", "the old object is intact");
  });

  fixture.it("a signal aborted while a read streams fails the stream with ABORTED", async (backend) => {
    await backend.put("abort/big.bin", Buffer.alloc(4 * 1024 * 1024, 7));
    const controller = new AbortController();
    const stream = await backend.getStream("abort/big.bin", { signal: controller.signal });
    await rejectsWithCode(async () => {
      for await (const _ of stream) controller.abort(new Error("enough"));
    }, "ABORTED", "getStream aborted midway");
  });
}

/** Each call fails with ABORTED, caused by the signal's reason, naming its key. */
async function expectAborted(calls: ReadonlyArray<[string, () => Promise<unknown>]>, signal: AbortSignal): Promise<void> {
  for (const [name, call] of calls) {
    const error = await rejectsWithCode(call, "ABORTED", name);
    assert.ok(isCausedBy(error, signal.reason), `${name}: the signal's reason is the cause`);
    assert.ok(error.message.includes("abort/"), `${name}: the message names the key: ${error.message}`);
  }
}

async function listKeysWith(backend: StorageBackend, prefix: string, signal: AbortSignal): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of backend.list(prefix, { signal })) keys.push(info.key);
  return keys;
}
