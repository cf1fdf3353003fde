/**
 * An address where a TCP connection never completes, for connect time-out tests: a listener in a child process
 * whose only thread is blocked (so it accepts nothing), with an accept queue of one that is filled first, so the
 * kernel drops every later SYN and the connecting side waits until it gives up.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import { createInterface } from "node:readline";

export interface UnacceptingEndpoint {
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

export async function startUnacceptingEndpoint(): Promise<UnacceptingEndpoint> {
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
