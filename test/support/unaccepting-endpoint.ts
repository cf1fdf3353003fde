/**
 * Endpoints for time-out tests. One where a TCP connection never completes (connect time-outs): a listener in a
 * child process whose only thread is blocked (so it accepts nothing), with an accept queue of one that is filled
 * first, so the kernel drops every later SYN and the connecting side waits until it gives up. One that accepts
 * and never answers (idle time-outs).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { createInterface } from "node:readline";

export interface TestEndpoint {
  readonly port: number;
  /** "http://127.0.0.1:<port>" */
  readonly endpoint: string;
  close(): Promise<void>;
}

const LISTENER = `
  const server = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
    process.stdout.write(server.address().port + "\\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  });
`;

export async function startUnacceptingEndpoint(): Promise<TestEndpoint> {
  const child = spawn(process.execPath, ["-e", LISTENER], { stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
  const port = Number(line);
  // More connections than the queue holds, all sent before any of them is seen to complete.
  const fillers = Array.from({ length: 8 }, () => connect(port, "127.0.0.1").on("error", () => undefined));
  await Promise.any(fillers.map((filler) => once(filler, "connect")));
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const filler of fillers) filler.destroy();
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** An endpoint that accepts every connection and never sends a byte, for idle time-out tests. */
export async function startSilentEndpoint(): Promise<TestEndpoint> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
