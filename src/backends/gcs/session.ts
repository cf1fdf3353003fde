/**
 * One resumable upload session (the protocol half of resumable.ts): chunk and status requests over plain HTTP
 * through the backend's time-out agent, retries after asking the session how far it got, and cancellation.
 *
 * - each middle request is answered by 308 and the persisted range; bytes the server did not keep are sent again;
 * - the final request names the total size and carries the CRC32C of the whole body (X-Goog-Hash), so GCS
 *   refuses to commit bytes that were damaged on the way;
 * - a failed request (5xx, 408, 429, reset, time-out) is retried after a status query; a session that says
 *   "complete" returns the object, one that is gone after the final request is reported as an ambiguous failure
 *   for the caller to settle with the writer token;
 * - fake-gcs-server 1.55.1 has no status query: it commits whatever the session holds, replacing the object at
 *   the key with a part of the new body. So a session asks only a store the probe (status-probe.ts) found safe
 *   (`statusQueries`); elsewhere a chunk request that fails ends the upload (the session is cancelled, nothing is
 *   committed, the call fails TRANSIENT) rather than risk a partial commit.
 *
 * The session URI is itself the credential for these requests (GCS documents that chunk requests need no
 * Authorization header), so no token ever goes through this file.
 */
import type { Agent } from "node:http";
import type { Readable } from "node:stream";
import type { File, FileMetadata } from "@google-cloud/storage";
import { OpenCrateError } from "../../errors.ts";
import type { RetryPolicy } from "../retry-policy.ts";
import { isRetryable } from "./errors.ts";
import { errorBodyOf, GcsRequestError } from "./media-request.ts";
import { sendRequest, type Reply, type RequestBody } from "./plain-request.ts";
import { isSocketTimeoutCode } from "./socket-timeouts.ts";

/** GCS takes the bytes of every request but the last in multiples of this. */
export const CHUNK_GRANULE = 256 * 1024;

export interface SessionSettings {
  readonly file: File;
  /** Agent with connect and idle time-outs, for the chunk requests. */
  readonly agent: Agent;
  /** The object's content type, repeated on the final request (see #contentType). */
  readonly contentType?: string | undefined;
  /** How each request is retried. */
  readonly retry: RetryPolicy;
  /**
   * Whether the store may be asked how far the session got (see status-probe.ts). Without it, a failed chunk
   * request is not retried: which of its bytes the store kept cannot be known without the question.
   */
  readonly statusQueries: boolean;
  readonly signal?: AbortSignal | undefined;
}

/** A failed request of a resumable upload. */
export class ResumableUploadError extends GcsRequestError {}

/** Resume point or outcome after a status query. */
type Progress = { readonly persisted: number } | { readonly resource: FileMetadata };

export class Session {
  readonly #uri: URL;
  readonly #settings: SessionSettings;
  #finished = false;

  constructor(uri: string, settings: SessionSettings) {
    this.#uri = new URL(uri);
    this.#settings = settings;
  }

  /** Sends a full middle chunk held in memory, starting at body offset `start`. */
  async sendMiddle(chunk: Buffer, start: number): Promise<void> {
    await this.#sendMiddle(async (from) => chunk.subarray(from - start), start, start + chunk.byteLength);
  }

  /**
   * Streams body bytes [start, end) in one request (`end - start` a multiple of 256 KiB). `open(from)` gives the
   * bytes from `from` to `end`: after a failure it is called again from where the session got.
   */
  async streamMiddle(open: (from: number) => Promise<Readable>, start: number, end: number): Promise<void> {
    await this.#sendMiddle(async (from) => ({ stream: await open(from), length: end - from }), start, end);
  }

  async #sendMiddle(bodyFrom: (from: number) => Promise<RequestBody>, start: number, end: number): Promise<void> {
    let persisted = start;
    for (let attempt = 0; ; attempt++) {
      let outcome: Progress;
      try {
        const reply = await this.#send(await bodyFrom(persisted), `bytes ${persisted}-${end - 1}/*`);
        if (reply.status !== 308) throw unexpected(reply, "a middle chunk");
        outcome = { persisted: persistedOf(reply) };
      } catch (error) {
        if (!this.#retryable(error, attempt) || !this.#settings.statusQueries) throw error;
        await this.#backOff(attempt);
        outcome = await this.#statusWithRetries("*");
      }
      if ("resource" in outcome) return this.#undoPrematureCommit(outcome.resource);
      if (outcome.persisted < start) {
        throw new ResumableUploadError(`The session lost bytes already acknowledged (it has ${outcome.persisted}).`, 500);
      }
      if (outcome.persisted >= end) return;
      attempt = this.#afterAnswer(outcome.persisted, persisted, attempt);
      persisted = outcome.persisted;
    }
  }

  /** Sends the last bytes (possibly none) and the total; resolves with the object resource. */
  async sendFinal(last: Buffer, start: number, crc32c: string): Promise<FileMetadata> {
    const total = start + last.byteLength;
    let persisted = start;
    for (let attempt = 0; ; attempt++) {
      const part = last.subarray(persisted - start);
      const range = part.byteLength === 0 ? `bytes */${total}` : `bytes ${persisted}-${total - 1}/${total}`;
      let outcome: Progress;
      try {
        const reply = await this.#send(part, range, { "x-goog-hash": `crc32c=${crc32c}`, ...this.#contentType() });
        if (reply.status === 308) outcome = { persisted: persistedOf(reply) };
        else if (reply.status === 200 || reply.status === 201) outcome = { resource: parseResource(reply) };
        else throw unexpected(reply, "the final chunk");
      } catch (error) {
        // Without status queries the caller settles a conditional write by its token; anything else is TRANSIENT.
        if (!this.#retryable(error, attempt) || !this.#settings.statusQueries) throw error;
        await this.#backOff(attempt);
        outcome = await this.#statusWithRetries(String(total));
      }
      if ("resource" in outcome) {
        this.#finished = true;
        if (Number(outcome.resource.size) !== total) await this.#undoPrematureCommit(outcome.resource);
        if (outcome.resource.crc32c !== undefined && outcome.resource.crc32c !== crc32c) {
          throw new ResumableUploadError("The stored object's CRC32C differs from the bytes sent.", "FILE_NO_UPLOAD");
        }
        return outcome.resource;
      }
      if (outcome.persisted < start) {
        throw new ResumableUploadError(`The session lost bytes already acknowledged (it has ${outcome.persisted}).`, 500);
      }
      attempt = this.#afterAnswer(outcome.persisted, persisted, attempt);
      persisted = outcome.persisted;
    }
  }

  /**
   * The attempt counter after the server kept bytes up to `now` (it had `before`): progress starts a fresh set
   * of retries; an answer without progress counts as a failed attempt, so a stuck session cannot loop forever.
   */
  #afterAnswer(now: number, before: number, attempt: number): number {
    if (now > before) return -1;
    if (attempt + 1 >= this.#settings.retry.attempts) {
      throw new ResumableUploadError(`The upload session accepts no more bytes (stuck at ${now}).`, 503);
    }
    return attempt;
  }

  /**
   * A status query answered with a committed object that lacks bytes, as fake-gcs-server (1.55.1) does. Sessions
   * on a store the probe found committing never ask, so this is a guard against a store that changed its ways:
   * the truncated object is deleted again (only that generation), so nothing partial stays at the key.
   */
  async #undoPrematureCommit(resource: FileMetadata): Promise<never> {
    this.#finished = true;
    const generation = resource.generation;
    if (generation !== undefined) await this.#settings.file.delete({ ifGenerationMatch: generation }).catch(() => undefined);
    throw new ResumableUploadError(
      `The store committed a partial object (${String(resource.size)} bytes) when asked how far the upload got; it was deleted again.`,
      "SESSION_GONE",
    );
  }

  /**
   * The session was opened with the content type (X-Upload-Content-Type), which GCS keeps; fake-gcs-server
   * ignores that header and takes the type of the request that completes the upload instead.
   */
  #contentType(): Record<string, string> {
    const type = this.#settings.contentType;
    return type === undefined ? {} : { "content-type": type };
  }

  /** Cancels the session (best effort), so nothing is committed. */
  async cancel(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await this.#request("DELETE", Buffer.alloc(0), {}, false).catch(() => undefined);
  }

  /**
   * Whether this store commits the session when asked how far it got (the probe in status-probe.ts): sends one
   * status query, without retries. True when it answers with an object.
   */
  async statusQueryCommits(): Promise<boolean> {
    const reply = await this.#send(Buffer.alloc(0), "bytes */*");
    if (reply.status === 308) return false;
    if (reply.status === 200 || reply.status === 201) {
      this.#finished = true;
      return true;
    }
    throw unexpected(reply, "a status query");
  }

  async #statusWithRetries(total: string): Promise<Progress> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#status(total);
      } catch (error) {
        // A tiny request that got no answer in time: the store is stalled, and asking again only adds time-outs.
        if (isTimeout(error) || !this.#retryable(error, attempt)) throw error;
        await this.#backOff(attempt);
      }
    }
  }

  /** Asks how far the session got. A session that is gone is an ambiguous failure when the total was sent. */
  async #status(total: string): Promise<Progress> {
    const reply = await this.#send(Buffer.alloc(0), `bytes */${total}`);
    if (reply.status === 308) return { persisted: persistedOf(reply) };
    if (reply.status === 200 || reply.status === 201) return { resource: parseResource(reply) };
    if (reply.status === 404 || reply.status === 410) {
      // Completed (and forgotten by an emulator) or expired: the caller settles it by reading the object.
      throw new ResumableUploadError("The upload session is gone; whether its last chunk was committed is unknown.", "SESSION_GONE");
    }
    throw unexpected(reply, "a status query");
  }

  async #send(body: RequestBody, contentRange: string, extra: Record<string, string> = {}): Promise<Reply> {
    return this.#request("PUT", body, { "content-range": contentRange, ...extra }, true);
  }

  #retryable(error: unknown, attempt: number): boolean {
    if (attempt + 1 >= this.#settings.retry.attempts || (this.#settings.signal?.aborted ?? false)) return false;
    // The caller's own failure (a local file that shrank), not the network's.
    return !(error instanceof OpenCrateError) && isRetryable(error);
  }

  #backOff(attempt: number): Promise<void> {
    return this.#settings.retry.wait(attempt + 1, this.#settings.signal);
  }

  #request(method: string, body: RequestBody, headers: Record<string, string>, throwOnAbort: boolean): Promise<Reply> {
    const signal = throwOnAbort ? this.#settings.signal : undefined;
    return sendRequest(this.#uri, { method, agent: this.#settings.agent, headers, body, signal });
  }
}

/** A socket time-out of the backend's agent. */
function isTimeout(error: unknown): boolean {
  return isSocketTimeoutCode((error as { code?: unknown } | null)?.code);
}

/** The next byte the server expects, from a 308's Range header ("bytes=0-N"; absent when it has none). */
function persistedOf(reply: Reply): number {
  const range = reply.headers.range;
  const match = typeof range === "string" ? /bytes=0-(\d+)/.exec(range) : null;
  return match === null ? 0 : Number(match[1]) + 1;
}

function parseResource(reply: Reply): FileMetadata {
  try {
    return JSON.parse(reply.body.toString("utf8")) as FileMetadata;
  } catch (error) {
    throw new ResumableUploadError(`The upload finished but its answer was not JSON (${String(error)}).`, 502);
  }
}

/** An error for an answer the protocol does not allow here, carrying the server's status and message. */
function unexpected(reply: Reply, what: string): ResumableUploadError {
  const { message, reason } = errorBodyOf(reply.body.toString("utf8").slice(0, 500));
  const status = reply.status >= 200 && reply.status < 400 ? 502 : reply.status;
  return new ResumableUploadError(`Unexpected answer to ${what} (HTTP ${reply.status}): ${message || "no details"}`, status, reason);
}
