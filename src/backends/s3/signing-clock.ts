/**
 * The time S3 requests are signed with: this machine's wall clock (machineTime in src/clock.ts) moved by the offset to the store's
 * clock that the store's answers show (their Date header). One per backend, shared by every request it signs itself
 * (small reads, heads, listings, streamed reads, small writes) and, once the SDK's client is built, kept in that
 * client's configuration (`systemClockOffset`), which the SDK's own requests read and move by the same measure.
 *
 * Trap: several requests signed with a wrong clock fail at once. The first answer moves the offset; the others must
 * still be signed again, so each failure is judged by the time its own request was signed with, never by the offset
 * as it is when the answer arrives.
 */
import { machineTime } from "../../clock.ts";

/** What the SDK client's configuration holds (and this keeps, before there is a client). */
export interface OffsetHolder {
  systemClockOffset?: number;
}

/** When one attempt was signed: the time written into it, and the offset that time carried. */
export interface SigningStamp {
  readonly at: Date;
  readonly offset: number;
}

/** Store error codes that mean "signed at a time too far from mine" (nothing was done). */
const CLOCK_SKEW_CODES: ReadonlySet<string> = new Set(["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]);
/** A signing time this far from the store's is worth correcting (stores allow 15 minutes; the SDK moves at 4). */
const CLOCK_SKEW_MIN_MS = 5 * 60_000;
/** The measured difference (store's clock minus this machine's, in ms), recorded on an error refused for its time. */
const STORE_AHEAD_MS = Symbol("storeAheadMs");
/** Marks an error refused for its signing time whose request is to be signed again with the corrected clock. */
const SIGN_AGAIN = Symbol("signAgain");

export class SigningClock {
  #holder: OffsetHolder = { systemClockOffset: 0 };

  /** Keeps the offset in `config` (the SDK client's) from now on, carrying over a correction made before it existed. */
  share(config: OffsetHolder): void {
    if (config === this.#holder) return;
    if ((config.systemClockOffset ?? 0) === 0) config.systemClockOffset = this.#offset();
    this.#holder = config;
  }

  /** The store's time now, as far as its answers have shown it (this machine's clock before any answer). */
  storeNow(): Date {
    return new Date(machineTime() + this.#offset());
  }

  /** The time to sign an attempt with now. */
  stamp(): SigningStamp {
    const offset = this.#offset();
    return { at: new Date(machineTime() + offset), offset };
  }

  /** Learns the store's time from a success answer's Date header, as the SDK does (not from a cache's answer). */
  sample(date: string | undefined, age: string | undefined): void {
    const storeTime = date === undefined || age !== undefined ? Number.NaN : Date.parse(date);
    if (Number.isFinite(storeTime)) this.#holder.systemClockOffset = storeTime - machineTime();
  }

  /**
   * After an error answer to the attempt signed at `stamp`, once the request has been signed again at most
   * `retried` times for its time. The store refused it for its time when it says so (CLOCK_SKEW_CODES), or when an
   * answer without a body (a HEAD's) is a 403 dated far from the signing time. Then the offset moves to the store's
   * clock when it is 5 minutes or more off, and the error is marked to be signed again when its own signing time was
   * that far from the store's (whichever request moved the offset) and it has not been signed again for this yet;
   * otherwise it is final. Either way it records the measured difference for its message. Returns the error.
   */
  judge(error: Error, answer: { readonly status: number; readonly date: string | undefined }, stamp: SigningStamp, retried: boolean): Error {
    const storeTime = answer.date === undefined ? Number.NaN : Date.parse(answer.date);
    if (!Number.isFinite(storeTime)) return error;
    const requestOff = Math.abs(storeTime - stamp.at.getTime()) >= CLOCK_SKEW_MIN_MS;
    const refusedForTime = CLOCK_SKEW_CODES.has(error.name) || (answer.status === 403 && isUnnamed(error.name) && requestOff);
    if (!refusedForTime) return error;
    const local = machineTime();
    if (Math.abs(storeTime - (local + this.#offset())) >= CLOCK_SKEW_MIN_MS) this.#holder.systemClockOffset = storeTime - local;
    Object.assign(error, { [STORE_AHEAD_MS]: storeTime - local });
    if (requestOff && !retried) Object.assign(error, { [SIGN_AGAIN]: true });
    return error;
  }

  #offset(): number {
    return this.#holder.systemClockOffset ?? 0;
  }
}

/**
 * Whether `error` was refused for its signing time and is to be signed again with the corrected clock: marked so by
 * judge() here, or by the SDK's own rule for its requests (`$metadata.clockSkewCorrected`). Nothing was done, so it
 * may go again whatever the request.
 */
export function isSignedAgain(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const marked = error as { [SIGN_AGAIN]?: boolean; $metadata?: { clockSkewCorrected?: unknown } };
  return marked[SIGN_AGAIN] === true || marked.$metadata?.clockSkewCorrected === true;
}

/**
 * How far the store's clock is ahead of this machine's (negative: behind), in ms, when `error` is the store refusing
 * a request for the time it was signed with; undefined for any other error. Measured when the answer came for the
 * requests signed here; from the answer's Date header for the SDK's own (undefined when it has none).
 */
export function clockSkewOf(error: unknown): { readonly storeAheadMs: number | undefined } | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const recorded = (error as { [STORE_AHEAD_MS]?: number })[STORE_AHEAD_MS];
  if (recorded !== undefined) return { storeAheadMs: recorded };
  const { name, $response } = error as { name?: unknown; $response?: { headers?: Record<string, string | undefined> } };
  if (typeof name !== "string" || !CLOCK_SKEW_CODES.has(name)) return undefined;
  const date = $response?.headers?.date ?? $response?.headers?.Date;
  const storeTime = date === undefined ? Number.NaN : Date.parse(date);
  return { storeAheadMs: Number.isFinite(storeTime) ? storeTime - machineTime() : undefined };
}

/** "3 h 0 min", "20 min", "45 s": a clock difference for messages. */
export function describeClockDifference(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** An error answer whose body named no S3 code (a HEAD's has none). */
function isUnnamed(name: string): boolean {
  return name === "Unknown" || name === "Forbidden" || name === "";
}
