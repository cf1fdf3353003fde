/**
 * Sockets kept open between requests to one origin, for the two plain-HTTP readers (kept-alive-get.ts for small
 * answers, plain-http-read.ts for ranges). An idle socket keeps no process alive (unref'd), and is closed when the
 * server closes it, it fails, or it stays idle too long; past `max` idle ones, a socket given back is closed.
 */
import type { Socket } from "node:net";

/** An idle socket is closed after this long (before servers drop idle connections, which they do after 5 s or more). */
const IDLE_KEEP_MS = 4000;

interface Idle<T> {
  readonly item: T;
  /** Closes the socket and forgets it (on any event while it waits). */
  readonly drop: () => void;
}

export class IdleSockets<T> {
  readonly #max: number;
  readonly #socketOf: (item: T) => Socket;
  readonly #idle: Idle<T>[] = [];

  /** `socketOf`: the socket of a kept item (the item may be the socket itself, or a holder of one). */
  constructor(max: number, socketOf: (item: T) => Socket) {
    this.#max = max;
    this.#socketOf = socketOf;
  }

  /** The most recently kept item whose socket is still open, taken out of the idle ones; undefined when none is. */
  take(): T | undefined {
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      const socket = this.#unwatch(idle);
      if (!socket.destroyed && socket.readyState === "open") {
        socket.ref();
        return idle.item;
      }
      socket.destroy();
    }
    return undefined;
  }

  /** Keeps the item's socket for a later request, or closes it when `max` are kept already. */
  keep(item: T): void {
    const socket = this.#socketOf(item);
    if (this.#idle.length >= this.#max) {
      socket.destroy();
      return;
    }
    const idle: Idle<T> = {
      item,
      drop: () => {
        socket.destroy();
        const at = this.#idle.indexOf(idle);
        if (at !== -1) this.#idle.splice(at, 1);
      },
    };
    socket.on("close", idle.drop).on("end", idle.drop).on("error", idle.drop).on("timeout", idle.drop);
    socket.setTimeout(IDLE_KEEP_MS);
    socket.unref();
    this.#idle.push(idle);
  }

  /** Closes every idle socket (a socket busy with a request closes when it ends). */
  close(): void {
    for (const idle of this.#idle.splice(0)) this.#unwatch(idle).destroy();
  }

  #unwatch(idle: Idle<T>): Socket {
    return this.#socketOf(idle.item).off("close", idle.drop).off("end", idle.drop).off("error", idle.drop).off("timeout", idle.drop);
  }
}
