/**
 * The GCS backend's socket time-outs, on real sockets: the backend's own keep-alive agent (connect time-out,
 * idle time-out, and the idle time-out again on a kept-alive socket that is reused), and the marker header that
 * arms the SDK's requests (armed, removed before it is sent, and nothing done to requests without it).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server } from "node:http";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { agentWithTimeouts, TIMEOUT_HEADER, timeoutHeaderValue, watchMarkedRequests } from "../../src/backends/gcs/socket-timeouts.ts";
import { startUnacceptingEndpoint, type TestEndpoint } from "../support/unaccepting-endpoint.ts";

/** Answers the first request on each connection with "ok"; never answers a later one. Records every request's headers. */
async function startServer(): Promise<{ server: Server; endpoint: string; headers: IncomingHttpHeaders[] }> {
  const headers: IncomingHttpHeaders[] = [];
  const served = new WeakSet<Socket>();
  const server = createServer((incoming, outgoing) => {
    headers.push(incoming.headers);
    if (served.has(incoming.socket)) return;
    served.add(incoming.socket);
    outgoing.end("ok");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return { server, endpoint: `http://127.0.0.1:${port}`, headers };
}

/** Sends a GET; resolves with the response's status, body and whether the socket was reused, or rejects. */
function get(url: string, agent: Agent, headers: Record<string, string> = {}): Promise<{ status: number; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const outgoing = send(url, { agent, headers }, (incoming: IncomingMessage) => {
      const chunks: Buffer[] = [];
      incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
      incoming.on("error", reject);
      incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, body: Buffer.concat(chunks).toString(), reused: outgoing.reusedSocket }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

describe("GCS socket time-outs", () => {
  let unaccepting: TestEndpoint;
  let http: Awaited<ReturnType<typeof startServer>>;
  before(async () => {
    unaccepting = await startUnacceptingEndpoint();
    http = await startServer();
  });
  after(async () => {
    await unaccepting?.close();
    http?.server.closeAllConnections();
    http?.server.close();
  });

  for (const scheme of ["http", "https"] as const) {
    it(`the backend's ${scheme} agent fails a connection that does not complete within the connect time-out`, { timeout: 30_000 }, async () => {
      const endpoint = `${scheme}://127.0.0.1:${unaccepting.port}`;
      const agent = agentWithTimeouts(endpoint, { connectMs: 200, idleMs: 60_000 });
      try {
        await assert.rejects(get(`${endpoint}/o`, agent), (error: unknown) => {
          assert.equal(codeOf(error), "ECONNTIMEOUT");
          assert.match(String(error), /no connection within 200 ms/);
          return true;
        });
      } finally {
        agent.destroy();
      }
    });
  }

  it("the backend's agent fails a request that gets no byte within the idle time-out, also on a reused kept-alive socket", { timeout: 30_000 }, async () => {
    const agent = agentWithTimeouts(http.endpoint, { connectMs: 60_000, idleMs: 200 });
    try {
      const first = await get(`${http.endpoint}/first`, agent);
      assert.deepEqual(first, { status: 200, body: "ok", reused: false });
      let reused: boolean | undefined;
      const second = new Promise<void>((resolve, reject) => {
        const outgoing = httpRequest(`${http.endpoint}/second`, { agent }, () => reject(new Error("the stalled request was answered")));
        outgoing.on("socket", () => (reused = outgoing.reusedSocket));
        outgoing.on("error", (error) => (codeOf(error) === "ETIMEDOUT" ? resolve() : reject(error)));
        outgoing.end();
      });
      await second;
      assert.equal(reused, true, "the second request went over the kept-alive socket of the first");
    } finally {
      agent.destroy();
    }
  });

  it("arms an SDK request that carries the marker, removes the marker before sending, and leaves other requests alone", { timeout: 30_000 }, async () => {
    watchMarkedRequests();
    const fresh = new Agent({ keepAlive: false });
    try {
      const plain = httpRequest(`${http.endpoint}/plain`, { agent: fresh });
      const [plainSocket] = (await once(plain, "socket")) as [Socket];
      assert.equal(plainSocket.timeout, undefined, "a request without the marker gets no time-out");
      plain.end();
      await once(plain, "response");

      const marked = httpRequest(`${http.endpoint}/marked`, { agent: fresh, headers: { [TIMEOUT_HEADER]: timeoutHeaderValue({ connectMs: 5_000, idleMs: 7_000 }) } });
      const [markedSocket] = (await once(marked, "socket")) as [Socket];
      assert.equal(markedSocket.timeout, 5_000, "a marked request's socket waits at most the connect time-out to connect");
      marked.end();
      await once(marked, "response");
      assert.equal(markedSocket.timeout, 7_000, "and the idle time-out once connected");
      assert.equal(http.headers.length >= 2, true);
      assert.ok(http.headers.every((headers) => headers[TIMEOUT_HEADER] === undefined), "the marker never leaves the process");
    } finally {
      fresh.destroy();
    }
  });

  it("arms a marked request whose headers come as one-element arrays (node-fetch 2, under older SDK releases)", { timeout: 30_000 }, async () => {
    watchMarkedRequests();
    const fresh = new Agent({ keepAlive: false });
    try {
      const before = http.headers.length;
      const marked = httpRequest(`${http.endpoint}/array-marked`, {
        agent: fresh,
        headers: { [TIMEOUT_HEADER]: [timeoutHeaderValue({ connectMs: 5_000, idleMs: 7_000 })] },
      });
      const [socket] = (await once(marked, "socket")) as [Socket];
      assert.equal(socket.timeout, 5_000, "the connect time-out is armed");
      marked.end();
      await once(marked, "response");
      assert.equal(socket.timeout, 7_000, "then the idle time-out");
      assert.equal(http.headers.length, before + 1);
      assert.equal(http.headers.at(-1)?.[TIMEOUT_HEADER], undefined, "the marker never leaves the process");
    } finally {
      fresh.destroy();
    }
  });
});
