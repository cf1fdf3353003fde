/**
 * Conditional writes whose answer is lost, aimed one at a time through the fault proxy: the server applies the
 * write, the client never hears, and (in the harder cases) the reads that would settle it fail too. Each case
 * checks that the outcome is settled by the writer's token, never guessed: a version claim is kept, not
 * abandoned for the next number; a run record's creator allocates instead of waiting for itself; a history
 * batch lands once; a multipart body lands whole with no upload left open.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { Snapshot } from "../../src/index.ts";
import { VersionStore } from "../../src/snapshot/versions.ts";
import { collectKeys, readText } from "../support/assertions.ts";
import { startFaultProxy, type FaultKind, type FaultProxy, type RequestLine } from "../support/fault-proxy.ts";
import { minioEnv, type S3ServerEnv } from "../support/servers.ts";
import { chunksOf, pseudoRandomBytes, sha256 } from "./support.ts";
import { cloudTargets, openUploads, type CloudTarget, type RequestRole } from "./targets.ts";

/** Scripted faults, in sequence: the next `times` requests matching a rule get its fault, then the next rule is armed. */
interface Rule {
  readonly match: (request: RequestLine, role: RequestRole, object: string | undefined) => boolean;
  readonly fault: FaultKind;
  times: number;
}

function script(target: CloudTarget, rules: Rule[]): (request: RequestLine) => FaultKind | undefined {
  return (request) => {
    const role = target.roleOf(request);
    const object = target.objectOf(request);
    const rule = rules.find((candidate) => candidate.times > 0);
    if (rule === undefined || !rule.match(request, role, object)) return undefined;
    rule.times -= 1;
    return rule.fault;
  };
}

for (const target of cloudTargets()) {
  describe(`lost answers to conditional writes on ${target.label}`, { skip: target.skip }, () => {
    const proxies: FaultProxy[] = [];
    const backends: StorageBackend[] = [];
    after(async () => {
      await Promise.all(backends.map((backend) => backend.close()));
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await target.cleanup();
    });

    /** A clean backend and a proxied one on the same fresh prefix; the proxy follows `rules`. */
    async function setUp(rules: Rule[]): Promise<{ clean: StorageBackend; faulty: StorageBackend; proxy: FaultProxy; prefix: string }> {
      const prefix = await target.freshPrefix();
      const proxy = await startFaultProxy({ target: target.endpoint, seed: 1 });
      proxies.push(proxy);
      const clean = target.backend(prefix);
      const faulty = target.backend(prefix, proxy.endpoint);
      backends.push(clean, faulty);
      // Probe the store before the faults start (the probe's own fault handling is not what these cases test).
      await faulty.put(".probe-first", "x", { mode: { kind: "create" } });
      proxy.setPlan({ decide: script(target, rules) });
      return { clean, faulty, proxy, prefix };
    }

    const isClaim = (version: number) => (_request: RequestLine, _role: RequestRole, object: string | undefined) =>
      object?.endsWith(`/.opencrate/versions/${String(version).padStart(10, "0")}.json`) === true;
    const writes = (matches: (object: string | undefined) => boolean) => (request: RequestLine, role: RequestRole, object: string | undefined) =>
      (role === "write" || role === "multipart-complete") && matches(object) && request.method !== "GET";
    const completes = (_request: RequestLine, role: RequestRole) => role === "multipart-complete";
    const reads = (matches: (object: string | undefined) => boolean) => (_request: RequestLine, role: RequestRole, object: string | undefined) =>
      role === "read" && matches(object);

    it("keeps a version claim whose answer was lost, by reading its token back", async () => {
      const { clean, faulty, proxy } = await setUp([
        { match: (request, role, object) => role === "write" && isClaim(0)(request, role, object), fault: "reset-after", times: 1 },
      ]);
      const snapshot = await Snapshot.setup({ name: "lost", backend: faulty, tag: "mine", console: false });
      assert.equal(snapshot.version, 0, proxy.describe());
      await snapshot.close();
      assert.equal(proxy.counters.injected["reset-after"], 1);
      const claims = await new VersionStore(clean, "lost").listClaims();
      assert.deepEqual(claims.map((claim) => [claim.version, claim.tag]), [[0, "mine"]]);
    });

    it("does not abandon a claim that landed when the reads that would settle it fail too", async () => {
      const claim0 = (object: string | undefined) => object?.endsWith("/.opencrate/versions/0000000000.json") === true;
      const { clean, faulty, proxy } = await setUp([
        { match: writes(claim0), fault: "reset-after", times: 1 },
        // Enough failed reads to exhaust the backend's own read-back and the version store's.
        { match: reads(claim0), fault: target.readFault, times: 2 * target.attemptsPerCall },
      ]);
      let version: number | undefined;
      try {
        const snapshot = await Snapshot.setup({ name: "settle", backend: faulty, tag: "mine", console: false });
        version = snapshot.version as number;
        await snapshot.close();
      } catch (error) {
        assert.ok(isOpenCrateError(error, "TRANSIENT"), `setup failed with ${String(error)}`);
      }
      const claims = await new VersionStore(clean, "settle").listClaims();
      assert.deepEqual(
        claims.map((claim) => [claim.version, claim.tag]),
        [[0, "mine"]],
        `one claim, ours (${proxy.describe()})`,
      );
      if (version !== undefined) assert.equal(version, 0, "the setup reports the claim it holds");
    });

    it("lets the rank that created a run record allocate even when the record's answer and read-backs were lost", async () => {
      const record = (object: string | undefined) => object?.endsWith("/.opencrate/runs/job-7.json") === true;
      const { clean, faulty, proxy } = await setUp([
        { match: writes(record), fault: "reset-after", times: 1 },
        { match: reads(record), fault: target.readFault, times: 2 * target.attemptsPerCall },
      ]);
      const snapshot = await Snapshot.setup({ name: "ranks", backend: faulty, runId: "job-7", console: false });
      assert.equal(snapshot.version, 0, proxy.describe());
      await snapshot.close();
      const joined = await Snapshot.setup({ name: "ranks", backend: clean, runId: "job-7", console: false });
      assert.equal(joined.version, 0, "another rank of the job joins the same version");
      await joined.close();
      assert.deepEqual(await collectKeys(clean, "ranks/.opencrate/versions/"), ["ranks/.opencrate/versions/0000000000.json"]);
    });

    it("appends a history batch once when its compare-and-swap answer was lost", async () => {
      const history = (object: string | undefined) => object?.endsWith("/hist/v0/hist.history.log") === true;
      const { clean, faulty, proxy } = await setUp([]);
      const first = await Snapshot.setup({ name: "hist", backend: clean, console: false });
      first.info("first run");
      await first.close();
      proxy.setPlan({
        decide: script(target, [
          // Not the create-only write that seeds the history from the first run's log: the append after it.
          { match: (request, role, object) => writes(history)(request, role, object) && isAppend(request), fault: "reset-after", times: 1 },
          { match: reads(history), fault: target.readFault, times: target.attemptsPerCall },
        ]),
      });
      const resumed = await Snapshot.setup({ name: "hist", start: 0, backend: faulty, console: false, logFlushIntervalMs: 3_600_000 });
      for (let i = 0; i < 5; i++) resumed.info(`resumed ${i}`);
      try {
        await resumed.flush();
      } catch (error) {
        assert.ok(isOpenCrateError(error, "TRANSIENT"), `flush failed with ${String(error)}`);
      }
      proxy.setPlan({});
      await resumed.close();
      assert.equal(proxy.counters.injected["reset-after"], 1, proxy.describe());
      const lines = (await readText(clean, "hist/v0/hist.history.log")).split("\n").filter((line) => line !== "");
      const texts = lines.map((line) => line.replace(/^.*?INFO\s+/, ""));
      assert.deepEqual(texts, ["first run", "resumed 0", "resumed 1", "resumed 2", "resumed 3", "resumed 4"]);
    });

    it("stores a multipart checkpoint whole when the answer to its completion was lost", async () => {
      const body = pseudoRandomBytes(target.multipartAbove * 2 + 12_345, 7);
      const { clean, faulty, proxy, prefix } = await setUp([]);
      const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
      proxy.setPlan({
        decide: script(target, [
          {
            match: (request, role) =>
              role === "multipart-complete" || (role === "multipart-part" && isLastChunk(request)),
            fault: "reset-after",
            times: 1,
          },
        ]),
      });
      try {
        await snapshot.checkpoint("model.bin").saveStream(chunksOf(body));
      } catch (error) {
        assert.ok(isOpenCrateError(error, "TRANSIENT"), `save failed with ${String(error)}`);
      }
      proxy.setPlan({});
      await snapshot.close();
      assert.equal(proxy.counters.injected["reset-after"], 1, proxy.describe());
      assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(body));
      if (target.kind === "s3") assert.deepEqual(await openUploads(minioEnv() as S3ServerEnv, prefix), []);
    });

    if (target.kind === "s3") {
      for (const [label, rules] of [
        ["lost", () => [{ match: completes, fault: "reset-after", times: 1 }]],
        ["lost, and the completion sent again fails", () => [
          { match: completes, fault: "reset-after", times: 1 },
          { match: completes, fault: "reset-before", times: 5 },
        ]],
      ] as const satisfies readonly (readonly [string, () => Rule[]])[]) {
        it(`saves a multipart body over an older one when the answer to its completion was ${label}: the save resolves`, async () => {
          const older = pseudoRandomBytes(target.multipartAbove * 2 + 100, 11);
          const body = pseudoRandomBytes(target.multipartAbove * 2 + 12_345, 12);
          const directory = await mkdtemp(join(tmpdir(), "oc-lost-complete-"));
          const file = join(directory, "model.bin");
          await writeFile(file, body);
          try {
            for (const how of ["saveStream", "saveFile"] as const) {
              const { clean, faulty, proxy, prefix } = await setUp([]);
              const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
              const checkpoint = snapshot.checkpoint("model.bin");
              await checkpoint.saveStream(chunksOf(older));
              proxy.setPlan({ decide: script(target, rules()) });
              if (how === "saveStream") await checkpoint.saveStream(chunksOf(body));
              else await checkpoint.saveFile(file);
              proxy.setPlan({});
              await snapshot.close();
              assert.equal(proxy.counters.injected["reset-after"], 1, proxy.describe());
              assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(body), how);
              assert.deepEqual(await openUploads(minioEnv() as S3ServerEnv, prefix), []);
            }
          } finally {
            await rm(directory, { recursive: true, force: true });
          }
        });
      }

      it("says the outcome of a multipart save is unknown, not that the upload was cancelled, when its completion's answer and the read-back were lost", async () => {
        const body = pseudoRandomBytes(target.multipartAbove * 2 + 12_345, 13);
        const { clean, faulty, proxy, prefix } = await setUp([]);
        const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
        const checkpoint = snapshot.checkpoint("model.bin");
        await checkpoint.saveStream(chunksOf(pseudoRandomBytes(target.multipartAbove * 2, 14)));
        const isModel = (object: string | undefined) => object?.endsWith("/ckpt/v0/checkpoints/model.bin") === true;
        proxy.setPlan({
          decide: script(target, [
            { match: completes, fault: "reset-after", times: 1 },
            { match: reads(isModel), fault: "status-503", times: 20 },
          ]),
        });
        await assert.rejects(checkpoint.saveStream(chunksOf(body)), (error: Error) => {
          assert.ok(isOpenCrateError(error, "TRANSIENT"), String(error));
          assert.match(error.message, /Could not tell whether the attempt to write .*model\.bin took effect/);
          assert.doesNotMatch(error.message, /cancelled/);
          return true;
        });
        proxy.setPlan({});
        await snapshot.close();
        assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(body));
        assert.deepEqual(await openUploads(minioEnv() as S3ServerEnv, prefix), []);
      });

      it("leaves only an empty upload behind when the answer to CreateMultipartUpload was lost (a lifecycle rule must remove it)", async () => {
        const body = pseudoRandomBytes(target.multipartAbove + 54_321, 9);
        const { clean, faulty, proxy, prefix } = await setUp([]);
        const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
        proxy.setPlan({ decide: script(target, [{ match: (_request, role) => role === "multipart-create", fault: "reset-after", times: 1 }]) });
        await snapshot.checkpoint("model.bin").saveStream(chunksOf(body));
        proxy.setPlan({});
        await snapshot.close();
        assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(body));
        const lost = proxy.swallowed.map((answer) => /<UploadId>([^<]+)<\/UploadId>/.exec(answer.body)?.[1]).filter((id) => id !== undefined);
        assert.equal(lost.length, 1);
        const open = await openUploads(minioEnv() as S3ServerEnv, prefix);
        assert.deepEqual(open.map((upload) => upload.uploadId), lost, "the only open upload is the one the client never heard of");
        for (const upload of open) assert.equal(upload.parts, 0, "and it holds no parts");
      });
    }

    if (target.kind === "gcs") {
      const finalChunk = (request: RequestLine, role: RequestRole) => role === "multipart-part" && isLastChunk(request);
      const isModel = (object: string | undefined) => object?.endsWith("/ckpt/v0/checkpoints/model.bin") === true;

      for (const [label, fault] of [
        ["lost", "reset-after"],
        ["cut off", "cut-response"],
      ] as const satisfies readonly (readonly [string, FaultKind])[]) {
        it(`saves a resumable body over an older one when the answer to its final request was ${label}: the save resolves`, async () => {
          const older = pseudoRandomBytes(target.multipartAbove * 2 + 100, 21);
          const body = pseudoRandomBytes(target.multipartAbove * 2 + 12_345, 22);
          const directory = await mkdtemp(join(tmpdir(), "oc-lost-final-"));
          const file = join(directory, "model.bin");
          await writeFile(file, body);
          try {
            for (const how of ["saveStream", "saveFile"] as const) {
              const { clean, faulty, proxy } = await setUp([]);
              const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
              const checkpoint = snapshot.checkpoint("model.bin");
              await checkpoint.saveStream(chunksOf(older));
              proxy.setPlan({ decide: script(target, [{ match: finalChunk, fault, times: 1 }]) });
              if (how === "saveStream") await checkpoint.saveStream(chunksOf(body));
              else await checkpoint.saveFile(file);
              proxy.setPlan({});
              await snapshot.close();
              assert.equal(proxy.counters.injected[fault], 1, `${how}: ${proxy.describe()}`);
              assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(body), how);
            }
          } finally {
            await rm(directory, { recursive: true, force: true });
          }
        });
      }

      it("settles a create-only resumable write whose final answer was lost as written, not ALREADY_EXISTS", async () => {
        const body = pseudoRandomBytes(target.multipartAbove * 2 + 777, 23);
        const { clean, faulty, proxy } = await setUp([]);
        // The first resumable upload asks whether sessions may be queried; that question is not the case here.
        await faulty.putStream("warm.bin", chunksOf(pseudoRandomBytes(target.multipartAbove + 1, 24)));
        proxy.setPlan({ decide: script(target, [{ match: finalChunk, fault: "reset-after", times: 1 }]) });
        const info = await faulty.putStream("claimed.bin", chunksOf(body), { mode: { kind: "create" } });
        proxy.setPlan({});
        assert.equal(proxy.counters.injected["reset-after"], 1, proxy.describe());
        assert.equal(info.size, body.byteLength);
        assert.equal(sha256(await clean.get("claimed.bin")), sha256(body));
      });

      it("says the outcome of a resumable save is unknown, not only that the store is unreachable, when its final answer and the read-back were lost", async () => {
        const body = pseudoRandomBytes(target.multipartAbove * 2 + 12_345, 25);
        const { clean, faulty, proxy } = await setUp([]);
        const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
        const checkpoint = snapshot.checkpoint("model.bin");
        await checkpoint.saveStream(chunksOf(pseudoRandomBytes(target.multipartAbove * 2, 26)));
        proxy.setPlan({
          decide: script(target, [
            { match: finalChunk, fault: "reset-after", times: 1 },
            { match: reads(isModel), fault: "status-503", times: 20 },
          ]),
        });
        await assert.rejects(checkpoint.saveStream(chunksOf(body)), (error: Error) => {
          assert.ok(isOpenCrateError(error, "TRANSIENT"), String(error));
          assert.match(error.message, /Cannot tell whether the write to .*model\.bin landed/);
          return true;
        });
        proxy.setPlan({});
        await snapshot.close();
        assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(body));
      });

      it("fails a save whose middle chunk's answer was lost without reading back (nothing was committed), and keeps the older body whole", async () => {
        const older = pseudoRandomBytes(target.multipartAbove * 2 + 100, 27);
        const { clean, faulty, proxy } = await setUp([]);
        const snapshot = await Snapshot.setup({ name: "ckpt", backend: faulty, console: false });
        const checkpoint = snapshot.checkpoint("model.bin");
        await checkpoint.saveStream(chunksOf(older));
        const middleChunk = (request: RequestLine, role: RequestRole) =>
          role === "multipart-part" && /^bytes [1-9]\d*-\d+\/\*$/.test(String(request.headers["content-range"]));
        proxy.setPlan({
          decide: script(target, [
            { match: middleChunk, fault: "reset-after", times: 1 },
            // A read-back would meet this and make the outcome look unknown.
            { match: reads(isModel), fault: "status-503", times: 20 },
          ]),
        });
        await assert.rejects(checkpoint.saveStream(chunksOf(pseudoRandomBytes(target.multipartAbove * 2 + 12_345, 28))), (error: Error) => {
          assert.ok(isOpenCrateError(error, "TRANSIENT"), String(error));
          assert.doesNotMatch(error.message, /Cannot tell whether/);
          return true;
        });
        proxy.setPlan({});
        await snapshot.close();
        assert.equal(proxy.counters.injected["reset-after"], 1, proxy.describe());
        assert.equal(sha256(await clean.get("ckpt/v0/checkpoints/model.bin")), sha256(older));
      });
    }
  });
}

/** A history append (compare-and-swap on an existing object), as opposed to the create-only write that seeds it. */
function isAppend(request: RequestLine): boolean {
  return (
    typeof request.headers["if-match"] === "string" ||
    /[?&]ifGenerationMatch=[1-9]/.test(request.url)
  );
}

/** The final chunk of a GCS resumable upload: its Content-Range names the total size. */
function isLastChunk(request: RequestLine): boolean {
  const range = request.headers["content-range"];
  return typeof range === "string" && /\/\d+$/.test(range);
}
