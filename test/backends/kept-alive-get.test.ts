/**
 * Small GETs on kept-open sockets (src/backends/kept-alive-get.ts), against local servers that answer as each case
 * needs: one connection carries many requests; error answers come back whole; answers of other framing or over the
 * limit are declined and their connection dropped, as is one the server closes; no answer at all (refused, reset,
 * silence, an abort) rejects with the network error; a kept socket the server closed is not used again.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { after, before, beforeEach, describe, it } from "node:test";
import { KeptAliveConnections, type SmallGet } from "../../src/backends/kept-alive-get.ts";

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

const BODY = randomBytes(1536);

describe("small GETs on kept-open sockets", () => {
  let server: Server;
  let handler: Handler = (_request, response) => response.end();
  const open = new Set<Socket>();
  let connections = 0;
  let port = 0;
  let kept: KeptAliveConnections;

  before(async () => {
    server = createServer((request, response) => handler(request, response));
    server.on("connection", (socket) => {
      connections += 1;
      open.add(socket);
      socket.once("close", () => open.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  beforeEach(() => {
    kept?.close();
    kept = new KeptAliveConnections("127.0.0.1", port);
    connections = 0;
    handler = (request, response) => {
      response.writeHead(206, { "content-length": BODY.byteLength, "x-seen-range": String(request.headers.range) });
      response.end(BODY);
    };
  });
  after(async () => {
    kept.close();
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const get = (extra: Partial<SmallGet> = {}): SmallGet => ({
    target: "/bucket/key?x-id=GetObject",
    headers: { host: `127.0.0.1:${port}`, range: "bytes=0-1536" },
    maxBytes: 4096,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    ...extra,
  });

  it("sends many requests, one after another, on one connection, with their headers", async () => {
    for (let i = 0; i < 20; i++) {
      const result = await kept.get(get());
      assert.equal(result.kind, "answer");
      if (result.kind !== "answer") return;
      assert.equal(result.status, 206);
      assert.ok(result.body.equals(BODY));
      assert.equal(result.headers.get("x-seen-range"), "bytes=0-1536");
    }
    assert.equal(connections, 1);
  });

  it("opens a connection per request in flight and reuses them all afterwards", async () => {
    await Promise.all(Array.from({ length: 8 }, () => kept.get(get())));
    assert.equal(connections, 8);
    await Promise.all(Array.from({ length: 8 }, () => kept.get(get())));
    assert.equal(connections, 8);
  });

  it("returns an error answer whole and keeps the connection", async () => {
    const xml = "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>";
    handler = (_request, response) => {
      response.writeHead(404, { "content-length": Buffer.byteLength(xml), "content-type": "application/xml" });
      response.end(xml);
    };
    const result = await kept.get(get());
    assert.deepEqual(result.kind === "answer" && [result.status, result.body.toString()], [404, xml]);
    await kept.get(get());
    assert.equal(connections, 1);
  });

  it("returns an error answer longer than the success limit (a 416 for the one byte asked of an empty object)", async () => {
    const xml = `<Error><Code>InvalidRange</Code><Message>The requested range is not satisfiable</Message>${" ".repeat(300)}</Error>`;
    handler = (_request, response) => {
      response.writeHead(416, { "content-length": Buffer.byteLength(xml), "content-type": "application/xml" });
      response.end(xml);
    };
    const result = await kept.get(get({ maxBytes: 1 }));
    assert.deepEqual(result.kind === "answer" && [result.status, result.body.toString()], [416, xml]);
    handler = (_request, response) => {
      response.writeHead(500, { "content-length": 70_000 });
      response.end(Buffer.alloc(70_000));
    };
    assert.deepEqual(await kept.get(get({ maxBytes: 1 })), { kind: "declined", status: 500 }, "an error answer past 64 KiB is declined");
  });

  it("sends a HEAD and takes its answer without a body, whatever its Content-Length says", async () => {
    let method = "";
    handler = (request, response) => {
      method = request.method ?? "";
      response.writeHead(200, { "content-length": 123456, etag: '"abc"' });
      response.end();
    };
    const result = await kept.get(get({ method: "HEAD", maxBytes: 0 }));
    assert.equal(method, "HEAD");
    assert.deepEqual(result.kind === "answer" && [result.status, result.body.byteLength, result.headers.get("etag")], [200, 0, '"abc"']);
    handler = (_request, response) => response.end("ok");
    const next = await kept.get(get());
    assert.deepEqual(next.kind === "answer" && next.body.toString(), "ok", "the connection carries the next request");
  });

  it("declines a chunked answer and one over the limit, and drops their connections", async () => {
    handler = (_request, response) => {
      response.write("part one ");
      response.end("part two");
    };
    assert.deepEqual(await kept.get(get()), { kind: "declined", status: 200 });
    handler = (_request, response) => {
      response.writeHead(200, { "content-length": 5000 });
      response.end(Buffer.alloc(5000));
    };
    assert.deepEqual(await kept.get(get()), { kind: "declined", status: 200 });
    handler = (_request, response) => response.end("ok");
    await kept.get(get());
    assert.equal(connections, 3);
  });

  it("does not reuse a connection the answer says will close, nor one the server closed while idle", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-length": 2, connection: "close" });
      response.end("ok");
    };
    await kept.get(get());
    await kept.get(get());
    assert.equal(connections, 2);

    handler = (request, response) => {
      response.end("ok");
      setTimeout(() => request.socket.end(), 30);
    };
    await kept.get(get());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const result = await kept.get(get());
    assert.deepEqual(result.kind === "answer" && result.body.toString(), "ok");
    assert.equal(connections, 4);
  });

  it("rejects with the network error when no answer comes: reset, refused, silence", async () => {
    handler = (request) => request.socket.destroy();
    await assert.rejects(kept.get(get()), (error: NodeJS.ErrnoException) => error.code === "ECONNRESET");

    const closed = createNetServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(new KeptAliveConnections("127.0.0.1", closedPort).get(get()), (error: NodeJS.ErrnoException) => error.code === "ECONNREFUSED");

    handler = () => {};
    await assert.rejects(kept.get(get({ idleTimeoutMs: 100 })), (error: Error) => error.name === "TimeoutError");
  });

  it("an abort rejects at once with an AbortError caused by the caller's reason", async () => {
    handler = () => {};
    const controller = new AbortController();
    const reason = new Error("stop");
    const pending = kept.get(get({ signal: controller.signal }));
    setTimeout(() => controller.abort(reason), 20);
    await assert.rejects(pending, (error: Error) => error.name === "AbortError" && error.cause === reason);
    await assert.rejects(kept.get(get({ signal: AbortSignal.abort(reason) })), (error: Error) => error.name === "AbortError");
  });

  it("close() closes the idle connections", async () => {
    await Promise.all([kept.get(get()), kept.get(get())]);
    assert.equal(open.size, 2);
    kept.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(open.size, 0);
  });
});

describe("small GETs on kept-open sockets, against a server that breaks framing", () => {
  it("does not reuse a connection that sent more than its Content-Length", async () => {
    let accepted = 0;
    const raw = createNetServer((socket) => {
      accepted += 1;
      socket.on("data", () => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcXYZ"));
    });
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    const port = (raw.address() as AddressInfo).port;
    const kept = new KeptAliveConnections("127.0.0.1", port);
    const request: SmallGet = { target: "/k", headers: { host: "x" }, maxBytes: 100, connectTimeoutMs: 5_000, idleTimeoutMs: 5_000 };
    const first = await kept.get(request);
    assert.deepEqual(first.kind === "answer" && first.body.toString(), "abc");
    await kept.get(request);
    assert.equal(accepted, 2);
    kept.close();
    await new Promise((resolve) => raw.close(resolve));
  });
});
