/**
 * Counts the bytes this process reads from the network: every TCP client socket opened while the counter is on
 * (the S3 and GCS SDKs' connections to the test servers, whatever HTTP client they use) is remembered, and
 * `read()` sums their `bytesRead`. Sockets opened before `start()` are not seen, so start it before the backend
 * opens any connection, and check that a known transfer is counted before trusting a small number.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";

export interface WireBytes {
  /** Bytes read from every socket seen so far (headers included). */
  read(): number;
  stop(): void;
}

export function startWireBytes(): WireBytes {
  const sockets = new Set<Socket>();
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket?: Socket }).socket;
    if (socket !== undefined) sockets.add(socket);
  };
  subscribe("net.client.socket", onSocket);
  return {
    read: () => {
      let total = 0;
      for (const socket of sockets) total += socket.bytesRead;
      return total;
    },
    stop: () => {
      unsubscribe("net.client.socket", onSocket);
      sockets.clear();
    },
  };
}
