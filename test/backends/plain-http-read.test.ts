/**
 * A GET whose body goes from the socket into reused buffers (src/backends/plain-http-read.ts), against a local
 * HTTP server that answers as each case needs: the body arrives whole and in order even when the sink is slow (the
 * buffers are reused only once the sink is done with them); any answer other than a 2xx with a Content-Length is
 * declined before a byte reaches the sink, as is one the caller's `accept` refuses; a body that breaks off, a failing
 * sink and an abort reject. A connection whose answer ended at its length carries the next read, unless the answer
 * said it closes or sent more; a kept connection the server closed is not used, or the read goes again on a new one.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import type { BodySink } from "../../src/backends/backend.ts";
import { type PlainGet, plainGet } from "../../src/backends/plain-http-read.ts";

const MiB = 1024 * 1024;
const BODY = randomBytes(5 * MiB + 777);

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A sink copying what it is handed, each write finishing after `delayMs` (so buffers wait on it). */
function collecting(delayMs = 0): BodySink & { readonly chunks: Buffer[]; bytes(): Buffer } {
  const chunks: Buffer[] = [];
  return {
    chunks,
    bytes: () => Buffer.concat(chunks),
    write: async (bytes) => {
      chunks.push(Buffer.from(bytes));
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    },
  };
}

/** A sink that checks, once each write is done, that its bytes were not overwritten meanwhile. */
function checking(delayMs: number): BodySink & { readonly hash: ReturnType<typeof createHash> } {
  const hash = createHash("sha256");
  return {
    hash,
    write: async (bytes) => {
      const copy = Buffer.from(bytes);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      assert.ok(copy.equals(bytes), "bytes handed to the sink changed before its write was done");
      hash.update(copy);
    },
  };
}

describe("a GET read into reused buffers", () => {
  let server: Server;
  let handler: Handler = (_request, response) => response.end();
  const sockets = new Set<Socket>();
  let port = 0;

  before(async () => {
    server = createServer((request, response) => handler(request, response));
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const request = (extra: Partial<PlainGet> = {}): PlainGet => ({
    hostname: "127.0.0.1",
    port,
    target: "/bucket/key?x-id=GetObject",
    headers: { host: `127.0.0.1:${port}`, range: "bytes=0-" },
    maxBytes: BODY.byteLength,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    ...extra,
  });

  const answerBody: Handler = (_request, response) => {
    response.writeHead(206, { "content-length": BODY.byteLength });
    // In pieces of several sizes, as a store's answer arrives.
    let at = 0;
    const more = (): void => {
      while (at < BODY.byteLength) {
        const end = Math.min(at + 1 + ((at * 7) % (300 * 1024)), BODY.byteLength);
        const ok = response.write(BODY.subarray(at, end));
        at = end;
        if (!ok) {
          response.once("drain", more);
          return;
        }
      }
      response.end();
    };
    more();
  };

  it("hands the whole body in order, with the request line and headers as given", async () => {
    let seen: IncomingMessage | undefined;
    handler = (incoming, response) => {
      seen = incoming;
      answerBody(incoming, response);
    };
    const sink = collecting();
    const result = await plainGet(request(), sink);
    assert.deepEqual(result, { kind: "done", bytes: BODY.byteLength });
    assert.ok(sink.bytes().equals(BODY));
    assert.equal(seen?.url, "/bucket/key?x-id=GetObject");
    assert.equal(seen?.headers.range, "bytes=0-");
  });

  it("reuses a buffer only once the sink is done with it, however slow the sink", async () => {
    handler = answerBody;
    const sink = checking(3);
    const result = await plainGet(request(), sink);
    assert.deepEqual(result, { kind: "done", bytes: BODY.byteLength });
    assert.equal(sink.hash.digest("hex"), createHash("sha256").update(BODY).digest("hex"));
  });

  it("a sink slower than the idle time-out does not time the read out (only the store's silence does)", async () => {
    handler = answerBody;
    const sink = checking(150);
    const result = await plainGet(request({ idleTimeoutMs: 100 }), sink);
    assert.deepEqual(result, { kind: "done", bytes: BODY.byteLength });
    assert.equal(sink.hash.digest("hex"), createHash("sha256").update(BODY).digest("hex"));
  });

  it("hands an empty body as zero bytes", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-length": 0 });
      response.end();
    };
    const sink = collecting();
    assert.deepEqual(await plainGet(request(), sink), { kind: "done", bytes: 0 });
    assert.equal(sink.chunks.length, 0);
  });

  it("declines error answers, chunked answers and bodies longer than asked, handing nothing", async () => {
    const cases: [string, Handler][] = [
      [
        "412",
        (_request, response) => {
          response.writeHead(412, { "content-type": "application/xml" });
          response.end("<Error><Code>PreconditionFailed</Code></Error>");
        },
      ],
      [
        "chunked",
        (_request, response) => {
          response.writeHead(200, { "transfer-encoding": "chunked" });
          response.write("abc");
          response.end("def");
        },
      ],
      [
        "too long",
        (_request, response) => {
          response.writeHead(200, { "content-length": 10 });
          response.end("0123456789");
        },
      ],
    ];
    for (const [label, answer] of cases) {
      handler = answer;
      const sink = collecting();
      const result = await plainGet(request({ maxBytes: 5 }), sink);
      assert.equal(result.kind, "declined", label);
      assert.equal(sink.chunks.length, 0, `${label}: nothing handed`);
    }
    handler = cases[0]?.[1] ?? answerBody;
    assert.deepEqual(await plainGet(request(), collecting()), { kind: "declined", status: 412 });
  });

  it("shows the caller the answer's status and headers, and declines it, handing nothing, when the caller refuses it", async () => {
    handler = (_request, response) => {
      response.setHeader("x-store-generation", ["1", "2"]);
      answerBody(_request, response);
    };
    const seen: Array<{ status: number; generation: string | undefined; length: string | undefined }> = [];
    for (const take of [false, true]) {
      const sink = collecting();
      const result = await plainGet(
        request({
          accept: (head) => {
            seen.push({ status: head.status, generation: head.headers.get("x-store-generation"), length: head.headers.get("content-length") });
            return take;
          },
        }),
        sink,
      );
      if (take) assert.ok(sink.bytes().equals(BODY));
      else {
        assert.deepEqual(result, { kind: "declined", status: 206 });
        assert.equal(sink.chunks.length, 0, "nothing handed");
      }
    }
    const expected = { status: 206, generation: "1, 2", length: String(BODY.byteLength) };
    assert.deepEqual(seen, [expected, expected]);
  });

  it("declines when no answer comes in time or the connection is refused", async () => {
    handler = () => {};
    const silent = await plainGet(request({ idleTimeoutMs: 200 }), collecting());
    assert.equal(silent.kind, "declined");
    assert.equal(silent.kind === "declined" ? (silent.cause as Error).name : "", "TimeoutError");

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const unused = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = await plainGet(request({ port: unused }), collecting());
    assert.equal(refused.kind, "declined");
    assert.equal(refused.kind === "declined" ? (refused.cause as NodeJS.ErrnoException).code : "", "ECONNREFUSED");
  });

  it("rejects when the body breaks off after some bytes were handed", async () => {
    handler = (_request, response) => {
      response.writeHead(206, { "content-length": BODY.byteLength });
      response.write(BODY.subarray(0, 2 * MiB), () => setTimeout(() => response.socket?.destroy(), 20));
    };
    const sink = collecting();
    await assert.rejects(plainGet(request(), sink), (error: unknown) => {
      assert.equal((error as NodeJS.ErrnoException).code, "ECONNRESET");
      return true;
    });
    assert.ok(sink.bytes().equals(BODY.subarray(0, sink.bytes().byteLength)), "what was handed is the start of the body");
  });

  it("rejects with the sink's failure, and with the caller's reason on abort", async () => {
    handler = answerBody;
    const broken = new Error("disk full (test)");
    let writes = 0;
    await assert.rejects(
      plainGet(request(), {
        write: async () => {
          if (++writes === 2) throw broken;
        },
      }),
      (error: unknown) => error === broken,
    );

    const controller = new AbortController();
    const reason = new Error("stop now");
    const sink: BodySink = {
      write: async () => {
        controller.abort(reason);
      },
    };
    await assert.rejects(plainGet(request({ signal: controller.signal }), sink), (error: unknown) => error === reason);
    await assert.rejects(plainGet(request({ signal: controller.signal }), collecting()), (error: unknown) => error === reason);
  });
});

describe("a GET read into reused buffers, on a connection kept for the next one", () => {
  interface RawServer {
    readonly port: number;
    /** Connections accepted so far. */
    connections(): number;
    /** Closes the server's side of every open connection (it goes on listening). */
    dropAll(): void;
    close(): Promise<void>;
  }

  /**
   * A server on raw sockets answering each request with `answer(request's number on its connection)`, or closing
   * the connection without an answer when that is undefined.
   */
  async function rawServer(answer: (nth: number) => string | undefined): Promise<RawServer> {
    const open = new Set<Socket>();
    let connections = 0;
    const server = createNetServer((socket) => {
      connections += 1;
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      // A client closing with bytes unread resets the connection.
      socket.on("error", () => {});
      let pending = "";
      let nth = 0;
      socket.on("data", (chunk: Buffer) => {
        pending += chunk.toString("latin1");
        for (let end = pending.indexOf("\r\n\r\n"); end !== -1; end = pending.indexOf("\r\n\r\n")) {
          pending = pending.slice(end + 4);
          const text = answer(nth++);
          if (text === undefined) socket.destroy();
          else socket.write(text);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const dropAll = (): void => {
      for (const socket of open) socket.destroy();
    };
    return {
      port: (server.address() as AddressInfo).port,
      connections: () => connections,
      dropAll,
      close: async () => {
        dropAll();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  const answer = (body: string, extraHead = ""): string => `HTTP/1.1 206 Partial Content\r\n${extraHead}Content-Length: 6\r\n\r\n${body}`;

  const read = (port: number): PlainGet => ({
    hostname: "127.0.0.1",
    port,
    target: "/bucket/key",
    headers: { host: `127.0.0.1:${port}` },
    maxBytes: 1024,
    connectTimeoutMs: 5_000,
    idleTimeoutMs: 5_000,
  });

  /** Reads once and returns the body handed (the read must be done, not declined). */
  const readOnce = async (port: number): Promise<string> => {
    const sink = collecting();
    assert.deepEqual(await plainGet(read(port), sink), { kind: "done", bytes: 6 });
    return sink.bytes().toString("latin1");
  };

  it("sends the next read on the same connection after an answer that ended at its length", async () => {
    const server = await rawServer((nth) => answer(`body-${nth}`));
    try {
      assert.deepEqual([await readOnce(server.port), await readOnce(server.port)], ["body-0", "body-1"]);
      assert.equal(server.connections(), 1);
    } finally {
      await server.close();
    }
  });

  it("opens a new connection after an answer that says it closes, or that sent more than its length", async () => {
    const answers = [answer("body-0", "Connection: close\r\n"), `${answer("body-0")}-and-more`, answer("body-0").replace("HTTP/1.1", "HTTP/1.0")];
    for (const text of answers) {
      const server = await rawServer(() => text);
      try {
        assert.deepEqual([await readOnce(server.port), await readOnce(server.port)], ["body-0", "body-0"]);
        assert.equal(server.connections(), 2, text);
      } finally {
        await server.close();
      }
    }
  });

  it("a kept connection the server closes instead of answering: the read goes again on a new one", async () => {
    // The second request on a connection is met with the connection closing, as when the server's idle time-out
    // and the request cross.
    const server = await rawServer((nth) => (nth === 0 ? answer("body-0") : undefined));
    try {
      assert.deepEqual([await readOnce(server.port), await readOnce(server.port)], ["body-0", "body-0"]);
      assert.equal(server.connections(), 2);
    } finally {
      await server.close();
    }
  });

  it("a kept connection the server closed while it waited is not used again", async () => {
    const server = await rawServer((nth) => answer(`body-${nth}`));
    try {
      assert.equal(await readOnce(server.port), "body-0");
      server.dropAll();
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(await readOnce(server.port), "body-0");
      assert.equal(server.connections(), 2);
    } finally {
      await server.close();
    }
  });
});
