/**
 * One GET over plain HTTP/1.1 whose body is read from the socket into a few reused buffers (net.Socket's `onread`)
 * and handed to a sink, instead of the fresh buffer per socket read that an HTTP client emits as a chunk: a large
 * download then leaves no garbage per chunk behind (at several hundred MiB/s that garbage is most of the CPU and
 * of the memory of a read).
 *
 * Only the common answer is taken here: a 2xx with a Content-Length and no transfer coding. Anything else (an
 * error, a redirect, chunked framing) is declined before a byte reaches the sink, so the caller sends the request
 * again through its full client, whose errors and retries it already knows. TLS is not handled (a TLS socket
 * decrypts into buffers of its own).
 *
 * A socket whose answer ended exactly at its announced length is kept open for the next read from the same origin
 * (the ranges of a large download follow one another on a few sockets instead of a new connection each).
 */
import { connect, type Socket } from "node:net";
import type { BodySink } from "./backend.ts";
import { IdleSockets } from "./idle-sockets.ts";
import { type AnswerHead, framedAnswer, HEAD_END, HEAD_MAX_BYTES, isSuccess, parseAnswerHead } from "./http-answer-head.ts";

export type { AnswerHead } from "./http-answer-head.ts";

/**
 * Bytes per reused buffer. A buffer goes to the sink only once full (or at the end of the body): a body read from an
 * aligned offset is then written in aligned blocks. Writes ending inside a page make the next write of that page
 * wait while the kernel writes it back, which slowed downloads several-fold on a busy disk. Small enough that the
 * bytes are still in the CPU's cache when the write copies them: with 512 KiB buffers the kernel's copy into the
 * page cache took four times as long (1 GiB from MinIO on the same machine: 2-2.7 s against 0.9-1.2 s).
 */
const BUFFER_BYTES = 128 * 1024;
/** Buffers per request: one fills while the others wait for the sink. */
const BUFFERS_PER_READ = 3;
/** Buffers kept between requests, for the next ones. */
const POOL_MAX = 24;
/** Sockets kept open per origin between reads; more are closed once their read is done. */
const IDLE_SOCKETS_MAX = 16;
/** Where an idle socket's stray bytes land before it is closed. */
const IDLE_READ = Buffer.allocUnsafe(64);

const pool: Buffer[] = [];
/** The idle sockets of each origin ("host:port"). */
const idleSockets = new Map<string, IdleSockets<ReadSocket>>();

export interface PlainGet {
  readonly hostname: string;
  readonly port: number;
  /** Path and query, as sent on the request line. */
  readonly target: string;
  readonly headers: Readonly<Record<string, string>>;
  /** An answer with a longer body is declined. */
  readonly maxBytes: number;
  readonly connectTimeoutMs: number;
  /** The socket may stay silent this long. */
  readonly idleTimeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Whether an answer with these head facts is taken (checked after the status and framing); false declines it. */
  readonly accept?: ((head: AnswerHead) => boolean) | undefined;
}

export type PlainGetResult =
  /** The whole body went to the sink. */
  | { readonly kind: "done"; readonly bytes: number }
  /** Not an answer taken here (status, framing), or no answer at all: nothing went to the sink. */
  | { readonly kind: "declined"; readonly status: number | undefined; readonly cause?: unknown };

/**
 * Sends the GET and delivers the body to `sink`. Rejects only once bytes have reached the sink (the body broke
 * off, the sink failed, the signal fired); a failure before that resolves as declined.
 */
export async function plainGet(request: PlainGet, sink: BodySink): Promise<PlainGetResult> {
  const kept = idleOf(originOf(request.hostname, request.port)).take();
  const reader = new BodyReader(request, sink, kept ?? new ReadSocket(request.hostname, request.port), kept !== undefined);
  const result = await reader.run();
  // A kept socket the server had closed meanwhile fails before any answer: the read goes again on a new one.
  if (kept === undefined || result.kind !== "declined" || !reader.closedUnheard) return result;
  return new BodyReader(request, sink, new ReadSocket(request.hostname, request.port), false).run();
}

/** What a socket's reads go to while a request uses it. */
interface ReadTarget {
  buffer(): Buffer;
  /** Bytes arrived in the last buffer given; false pauses the socket. */
  read(count: number): boolean;
}

/** A socket reading into the buffers of the request using it (`target`); between requests, into nothing. */
class ReadSocket {
  readonly socket: Socket;
  readonly origin: string;
  target: ReadTarget | undefined;
  /** Where the next read lands. Node asks for it after each read (and once at the start), so the first read for a
   * request lands in the buffer given while the socket had none: those bytes are moved to the request's buffer. */
  #landing: Buffer = IDLE_READ;

  constructor(hostname: string, port: number) {
    this.origin = originOf(hostname, port);
    this.socket = connect({
      host: hostname,
      port,
      noDelay: true,
      onread: { buffer: () => (this.#landing = this.target?.buffer() ?? IDLE_READ), callback: (count) => this.#arrived(count) },
    });
  }

  #arrived(count: number): boolean {
    const target = this.target;
    if (target === undefined) return this.#strayBytes();
    if (this.#landing === IDLE_READ) IDLE_READ.copy(target.buffer(), 0, 0, count);
    return target.read(count);
  }

  /** Bytes while idle: no request asked for them, so the connection's framing is lost (its idle list drops it). */
  #strayBytes(): boolean {
    this.socket.destroy();
    return false;
  }
}

function originOf(hostname: string, port: number): string {
  return `${hostname}:${port}`;
}

function idleOf(origin: string): IdleSockets<ReadSocket> {
  let idle = idleSockets.get(origin);
  if (idle === undefined) {
    idle = new IdleSockets<ReadSocket>(IDLE_SOCKETS_MAX, (read) => read.socket);
    idleSockets.set(origin, idle);
  }
  return idle;
}

class BodyReader {
  readonly #request: PlainGet;
  readonly #sink: BodySink;
  readonly #buffers: Buffer[] = [];
  /** Buffers whose bytes the sink still holds, oldest first. */
  readonly #busy: Busy[] = [];
  #current: Buffer;
  #filled = 0;
  #length: number | undefined;
  /** Body bytes handed to the sink. */
  #delivered = 0;
  #status: number | undefined;
  /** The socket, until the answer is done with it. */
  #read: ReadSocket | undefined;
  /** The socket was kept open from an earlier read. */
  readonly #kept: boolean;
  /** Some bytes of the answer arrived. */
  #heard = false;
  /** The connection closed or failed before any answer. */
  #closedUnheard = false;
  /** The answer's head lets the connection carry another request. */
  #keepable = false;
  /** Every byte of the body is in. */
  #complete = false;
  #settled = false;
  #resolve: (result: PlainGetResult) => void = () => {};
  #reject: (error: unknown) => void = () => {};

  constructor(request: PlainGet, sink: BodySink, read: ReadSocket, kept: boolean) {
    this.#request = request;
    this.#sink = sink;
    this.#read = read;
    this.#kept = kept;
    for (let i = 0; i < BUFFERS_PER_READ; i++) this.#buffers.push(pool.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES));
    this.#current = this.#buffers[0] as Buffer;
  }

  run(): Promise<PlainGetResult> {
    return new Promise<PlainGetResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      const { signal } = this.#request;
      if (signal?.aborted === true) {
        this.#fail(signal.reason);
        return;
      }
      signal?.addEventListener("abort", this.#onAbort, { once: true });
      const read = this.#read as ReadSocket;
      read.target = { buffer: () => this.#current.subarray(this.#filled), read: (count) => this.#onRead(count) };
      read.socket.on("timeout", this.#onTimeout).on("error", this.#onError).on("close", this.#onClose);
      if (this.#kept) {
        this.#send();
        read.socket.resume();
      } else {
        read.socket.setTimeout(this.#request.connectTimeoutMs);
        read.socket.once("connect", this.#send);
      }
    });
  }

  /** Whether the read was declined because its kept socket had been closed by the server (not sent again yet). */
  get closedUnheard(): boolean {
    return this.#closedUnheard;
  }

  readonly #send = (): void => {
    this.#read?.socket.setTimeout(this.#request.idleTimeoutMs);
    this.#read?.socket.write(this.#requestText());
  };

  readonly #onTimeout = (): void => {
    if (!this.#complete) this.#fail(Object.assign(new Error("the store sent nothing for too long"), { name: "TimeoutError", code: "ETIMEDOUT" }));
  };

  readonly #onError = (error: Error): void => {
    if (this.#complete) return;
    this.#closedUnheard = !this.#heard;
    this.#fail(error);
  };

  readonly #onClose = (): void => {
    if (this.#complete) return;
    this.#closedUnheard = !this.#heard;
    this.#fail(Object.assign(new Error(`the answer ended after ${this.#delivered} bytes of its body`), { code: "ECONNRESET" }));
  };

  readonly #onAbort = (): void => {
    this.#fail(this.#request.signal?.reason);
  };

  #requestText(): string {
    let text = `GET ${this.#request.target} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(this.#request.headers)) text += `${name}: ${value}\r\n`;
    return `${text}\r\n`;
  }

  /** Bytes arrived at `#current[#filled...]`; false pauses the socket until a buffer is free. */
  #onRead(count: number): boolean {
    if (this.#settled) return false;
    this.#heard = true;
    this.#filled += count;
    if (this.#length === undefined) {
      if (!this.#readHead()) return true;
      if (this.#settled) return false;
    }
    const length = this.#length ?? 0;
    const wanted = length - this.#delivered;
    if (this.#filled >= wanted) {
      // More bytes than announced: the connection's framing is lost, so it carries nothing more.
      const keep = this.#filled === wanted && this.#keepable;
      this.#filled = wanted;
      this.#complete = true;
      this.#letGo(keep);
      this.#hand();
      void this.#finish();
      // A kept socket reads on (into nothing) so that its closing is seen while it waits.
      return keep;
    }
    if (this.#filled < this.#current.byteLength) return true;
    this.#hand();
    return this.#nextBuffer();
  }

  /** Parses the status line and headers once they are all in; false while more are needed. */
  #readHead(): boolean {
    const end = this.#current.subarray(0, this.#filled).indexOf(HEAD_END);
    if (end === -1) {
      if (this.#filled > HEAD_MAX_BYTES) this.#decline(undefined, new Error("answer headers too long"));
      return this.#settled;
    }
    const head = parseAnswerHead(this.#current.toString("latin1", 0, end));
    this.#status = head.status;
    if (!framedAnswer(head) || !isSuccess(head.status) || head.length > this.#request.maxBytes || this.#request.accept?.({ status: head.status, headers: head.headers }) === false) {
      this.#decline(head.status);
      return true;
    }
    const { length } = head;
    this.#length = length;
    this.#keepable = !head.closes;
    const bodyStart = end + HEAD_END.byteLength;
    this.#current.copyWithin(0, bodyStart, this.#filled);
    this.#filled -= bodyStart;
    return true;
  }

  /** Hands the filled part of the current buffer to the sink. */
  #hand(): void {
    if (this.#filled === 0) return;
    const buffer = this.#current;
    const bytes = buffer.subarray(0, this.#filled);
    this.#delivered += this.#filled;
    this.#filled = 0;
    const entry: Busy = { buffer, written: this.#sink.write(bytes), done: false };
    this.#busy.push(entry);
    entry.written.then(
      () => {
        entry.done = true;
        while (this.#busy[0]?.done === true) this.#busy.shift();
      },
      (error: unknown) => this.#fail(error),
    );
  }

  /** Moves to a free buffer; with none, to the oldest busy one, and pauses until the sink is done with it. */
  #nextBuffer(): boolean {
    const free = this.#buffers.find((buffer) => !this.#busy.some((entry) => entry.buffer === buffer && !entry.done));
    if (free !== undefined) {
      this.#current = free;
      return true;
    }
    // The next read lands in the oldest busy buffer: the socket stays paused until its write is done.
    const oldest = this.#busy[0];
    if (oldest === undefined) return true;
    this.#current = oldest.buffer;
    // Waiting on the sink (a busy disk) is not the store going silent: no idle time-out meanwhile.
    this.#read?.socket.setTimeout(0);
    oldest.written.then(
      () => {
        if (this.#settled) return;
        this.#read?.socket.setTimeout(this.#request.idleTimeoutMs);
        this.#read?.socket.resume();
      },
      () => {},
    );
    return false;
  }

  async #finish(): Promise<void> {
    const bytes = this.#delivered;
    try {
      await Promise.all(this.#busy.map((entry) => entry.written));
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#end({ kind: "done", bytes });
  }

  #decline(status: number | undefined, cause?: unknown): void {
    this.#end({ kind: "declined", status, ...(cause === undefined ? {} : { cause }) });
  }

  /** A failure of the socket, the sink or the signal. Before any byte went to the sink, the request is declined. */
  #fail(error: unknown): void {
    if (this.#settled) return;
    if (this.#delivered === 0 && this.#request.signal?.aborted !== true) {
      this.#decline(this.#status, error);
      return;
    }
    this.#settled = true;
    this.#cleanUp(false);
    // The caller may close the file once this rejects: writes under way finish first.
    void Promise.allSettled(this.#busy.map((entry) => entry.written)).then(() => this.#reject(error));
  }

  #end(result: PlainGetResult): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#cleanUp(true);
    this.#resolve(result);
  }

  /** Done with the socket: kept for the next read, or closed. */
  #letGo(keep: boolean): void {
    const read = this.#read;
    if (read === undefined) return;
    this.#read = undefined;
    read.target = undefined;
    read.socket.off("timeout", this.#onTimeout).off("error", this.#onError).off("close", this.#onClose).off("connect", this.#send);
    if (keep) {
      // Reading on (into nothing), so that the server closing the connection is seen while it waits.
      read.socket.resume();
      idleOf(read.origin).keep(read);
    } else {
      // A late error of the closed socket has no one left to tell.
      read.socket.on("error", () => {}).destroy();
    }
  }

  #cleanUp(reusable: boolean): void {
    this.#request.signal?.removeEventListener("abort", this.#onAbort);
    this.#letGo(false);
    if (!reusable) return;
    // Buffers the sink may still hold are not given back.
    void Promise.allSettled(this.#busy.map((entry) => entry.written)).then(() => {
      for (const buffer of this.#buffers) if (pool.length < POOL_MAX) pool.push(buffer);
    });
  }
}

interface Busy {
  readonly buffer: Buffer;
  readonly written: Promise<void>;
  done: boolean;
}
