/**
 * GCS ranged reads into reused buffers (src/backends/gcs/range-into.ts) on a real fake-gcs-server, some through a
 * proxy in front of it that records media GETs and can end the first answer half-way: a range is one GET whose
 * body reaches the sink in at most three buffers, however many socket reads it took; it carries the generation it
 * is pinned to; a body cut half-way is continued from the first byte not handed, pinned to the generation of the
 * first answer, and an object replaced meanwhile fails the read instead of splicing; a failing sink is not retried;
 * an abort stops the read with the caller's reason; a TLS endpoint is left to the streamed path; and a large
 * download to a file reads every range this way.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, realpath, rm } from "node:fs/promises";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BodySink, StorageBackend } from "../../src/backends/backend.ts";
import { GcsBackend, type GcsBackendOptions } from "../../src/backends/gcs/index.ts";
import { downloadToFile } from "../../src/transfer/download-file.ts";
import { SafeFolder } from "../../src/transfer/safe-folder.ts";
import { assertSameBytes, isCausedBy, randomBody, rejectsWithCode } from "../conformance/helpers.ts";
import { deleteUnder } from "../support/bucket-factory.ts";
import { ensureGcsBucket, gcsOptions } from "../support/gcs.ts";
import { gcsEnv, skipUnless, type GcsServerEnv } from "../support/servers.ts";

const MiB = 1024 * 1024;
const server = gcsEnv();

/** A sink keeping a copy of what it is handed and the memory each piece came in. */
function copying(): BodySink & { bytes(): Buffer; readonly memory: Set<ArrayBufferLike>; writes: number } {
  const chunks: Buffer[] = [];
  const memory = new Set<ArrayBufferLike>();
  const sink = {
    memory,
    writes: 0,
    bytes: () => Buffer.concat(chunks),
    write: async (bytes: Uint8Array) => {
      sink.writes += 1;
      memory.add(bytes.buffer);
      chunks.push(Buffer.from(bytes));
    },
  };
  return sink;
}

interface MediaGet {
  readonly range: string | undefined;
  readonly generation: string | null;
}

describe("GCS ranged reads into reused buffers on fake-gcs-server", { skip: skipUnless(server, "fake-gcs-server", "TEST_GCS_ENDPOINT") }, () => {
  const gcs = server as GcsServerEnv;
  const prefixes: string[] = [];
  const backends: StorageBackend[] = [];
  const servers: Server[] = [];

  before(() => ensureGcsBucket(gcs));
  after(async () => {
    await Promise.all(backends.map((backend) => backend.close()));
    for (const proxy of servers) {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
    const cleaner = new GcsBackend(gcsOptions(gcs));
    await deleteUnder(cleaner, prefixes);
    await cleaner.close();
  });

  function fresh(extra: Partial<GcsBackendOptions> = {}): { backend: GcsBackend; prefix: string } {
    const prefix = `t-${randomUUID()}`;
    prefixes.push(prefix);
    const backend = new GcsBackend(gcsOptions(gcs, { prefix, ...extra }));
    backends.push(backend);
    return { backend, prefix };
  }

  /**
   * A writer straight to the emulator and a reader through a proxy recording media GETs. With `cut`, the first
   * media GET gets its headers and half its body, then the end of the connection (FIN); `beforeRest` runs before
   * any later media GET is let through. `stall` holds every media GET unanswered.
   */
  async function viaProxy(options: { cut?: boolean; stall?: boolean; beforeRest?: () => Promise<void> } = {}) {
    const { backend, prefix } = fresh();
    const gets: MediaGet[] = [];
    const target = new URL(gcs.endpoint);
    let cuts = options.cut === true ? 1 : 0;
    const proxy = createServer((incoming, outgoing) => {
      const url = new URL(incoming.url ?? "/", "http://proxy");
      const media = url.searchParams.get("alt") === "media";
      const generation = url.searchParams.get("generation");
      if (media) gets.push({ range: incoming.headers.range, generation });
      if (media && options.stall === true) return;
      const cut = media && cuts > 0;
      if (cut) cuts -= 1;
      const forward = (): void => {
        const upstream = httpRequest({ host: target.hostname, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (response) => {
          const headers: IncomingHttpHeaders = response.headers;
          outgoing.writeHead(response.statusCode ?? 502, headers);
          if (!cut) {
            response.pipe(outgoing);
            return;
          }
          const half = Math.floor(Number(headers["content-length"]) / 2);
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => outgoing.write(Buffer.concat(chunks).subarray(0, half), () => outgoing.socket?.end()));
        });
        incoming.pipe(upstream);
      };
      if (media && !cut && gets.length > 1 && options.beforeRest !== undefined) void options.beforeRest().then(forward);
      else forward();
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const reader = new GcsBackend(gcsOptions(gcs, { prefix, apiEndpoint: endpoint, maxRetries: 1 }));
    backends.push(reader);
    return { writer: backend, reader, gets };
  }

  it("reads a range in one GET pinned to the generation asked, handed in at most three reused buffers", async () => {
    const { writer, reader, gets } = await viaProxy();
    const body = randomBody(6 * MiB + 321);
    const info = await writer.put("big.bin", body);
    const range = { offset: 1000, length: 5 * MiB };
    const sink = copying();
    assert.equal(await reader.readRangeInto("big.bin", { range, ifRevision: info.revision }, sink), range.length);
    assertSameBytes(sink.bytes(), body.subarray(range.offset, range.offset + range.length), "the range");
    assert.deepEqual(gets, [{ range: `bytes=1000-${1000 + 5 * MiB - 1}`, generation: info.revision }]);
    // 5 MiB arrive in many socket reads; they land in the same few buffers, handed once full.
    assert.ok(sink.writes >= 10, `${sink.writes} writes`);
    assert.ok(sink.memory.size <= 3, `${sink.memory.size} distinct buffers`);
  });

  it("continues a body cut half-way from the first byte not handed, pinned to the generation it came from", async () => {
    const { writer, reader, gets } = await viaProxy({ cut: true });
    const body = randomBody(8 * MiB);
    const info = await writer.put("big.bin", body);
    const range = { offset: 0, length: body.byteLength };
    const sink = copying();
    assert.equal(await reader.readRangeInto("big.bin", { range }, sink), range.length);
    assertSameBytes(sink.bytes(), body, "the range, across the cut");
    assert.equal(gets.length, 2, "the first GET and one continuation");
    assert.deepEqual(gets[0], { range: `bytes=0-${8 * MiB - 1}`, generation: null });
    const restFrom = Number(/^bytes=(\d+)-/.exec(gets[1]?.range ?? "")?.[1]);
    assert.ok(restFrom > 0 && restFrom <= 4 * MiB, `continued from byte ${restFrom}`);
    assert.deepEqual(gets[1], { range: `bytes=${restFrom}-${8 * MiB - 1}`, generation: info.revision });
  });

  for (const pinned of [false, true]) {
    const outcome = pinned ? "PRECONDITION_FAILED (the revision asked for is gone)" : "TRANSIENT";
    it(`${pinned ? "a pinned" : "an unpinned"} read of an object replaced between the cut and the continuation fails ${outcome}, never splicing`, async () => {
      let replace = async (): Promise<void> => {};
      const { writer, reader, gets } = await viaProxy({ cut: true, beforeRest: () => replace() });
      const body = randomBody(8 * MiB);
      const info = await writer.put("big.bin", body);
      replace = async () => {
        await writer.put("big.bin", randomBody(8 * MiB));
      };
      const range = { offset: 0, length: body.byteLength };
      const sink = copying();
      const read = reader.readRangeInto("big.bin", { range, ...(pinned ? { ifRevision: info.revision } : {}) }, sink);
      const error = await rejectsWithCode(read, pinned ? "PRECONDITION_FAILED" : "TRANSIENT", "replaced mid-read");
      assert.match(error.message, /big\.bin/);
      if (!pinned) assert.match(error.message, /changed while it was being read/);
      const handed = sink.bytes();
      assert.ok(handed.byteLength > 0 && handed.byteLength < body.byteLength, `${handed.byteLength} bytes handed`);
      assertSameBytes(handed, body.subarray(0, handed.byteLength), "only bytes of the first generation were handed");
      assert.equal(gets[1]?.generation, info.revision, "the continuation asked for the first generation");
    });
  }

  it("a failing sink stops the read with the sink's own error, and nothing is asked again", async () => {
    const { writer, reader, gets } = await viaProxy();
    await writer.put("big.bin", randomBody(4 * MiB));
    const full = new Error("the disk is full (test)");
    let writes = 0;
    const sink: BodySink = {
      write: async () => {
        writes += 1;
        if (writes === 2) throw full;
      },
    };
    await assert.rejects(reader.readRangeInto("big.bin", { range: { offset: 0, length: 4 * MiB } }, sink), (error: unknown) => error === full);
    assert.equal(gets.length, 1);
  });

  it("an abort stops a read waiting for its answer, with the caller's reason", async () => {
    const { writer, reader } = await viaProxy({ stall: true });
    await writer.put("big.bin", randomBody(MiB));
    const controller = new AbortController();
    const reason = new Error("stop now (test)");
    const sink = copying();
    const read = reader.readRangeInto("big.bin", { range: { offset: 0, length: MiB }, signal: controller.signal }, sink);
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(read, (error: unknown) => isCausedBy(error, reason));
    assert.equal(sink.writes, 0);
  });

  it("leaves a TLS endpoint to the streamed path without sending anything", async () => {
    const { prefix } = fresh();
    let connections = 0;
    const listener = createNetServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    try {
      const port = (listener.address() as AddressInfo).port;
      const tls = new GcsBackend(gcsOptions(gcs, { prefix, apiEndpoint: `https://127.0.0.1:${port}`, maxRetries: 1 }));
      backends.push(tls);
      const sink = copying();
      assert.equal(await tls.readRangeInto("any.bin", { range: { offset: 0, length: 10 } }, sink), undefined);
      assert.equal(sink.writes, 0);
      assert.equal(connections, 0, "no connection made");
    } finally {
      await new Promise((resolve) => listener.close(resolve));
    }
  });

  it("a large download to a file reads every range into reused buffers, none as a stream", async () => {
    const { backend } = fresh();
    const body = randomBody(40 * MiB + 7);
    await backend.put("model.bin", body);
    const info = await backend.head("model.bin");
    const calls = { ranges: 0, streams: 0 };
    const counting = new Proxy(backend, {
      get(target, property) {
        if (property === "readRangeInto") {
          return async (...args: Parameters<GcsBackend["readRangeInto"]>) => {
            calls.ranges += 1;
            return target.readRangeInto(...args);
          };
        }
        if (property === "getStream") {
          return async (...args: Parameters<GcsBackend["getStream"]>) => {
            calls.streams += 1;
            return target.getStream(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const dir = await realpath(await mkdtemp(join(tmpdir(), "gcs-range-into-")));
    try {
      const folder = await SafeFolder.open(dir);
      try {
        const done = await downloadToFile({ backend: counting, key: "model.bin", info, folder, name: "out.bin", partialName: ".out.part", resume: false });
        assert.equal(done.verified, "crc32c", "verified against the CRC32C the store gives beside its MD5");
      } finally {
        await folder.close();
      }
      assertSameBytes(await readFile(join(dir, "out.bin")), body, "the file");
      assert.deepEqual(calls, { ranges: 3, streams: 0 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
