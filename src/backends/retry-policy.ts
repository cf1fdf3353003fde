/**
 * The one retry policy: how often a call is tried, how long to wait between tries, which calls may be sent again
 * when a failure leaves their outcome unknown, and how often a write that met a concurrent writer is tried again.
 * Every backend takes one (the `retry` option), derives its SDK's retry settings from it and lends it to the loops
 * above it (version claims, log appends) as `StorageBackend.retryPolicy`. Every wait goes through its `sleep`, so
 * tests can run a schedule without waiting for it.
 */
import { clock } from "../clock.ts";
import { InvalidArgumentError } from "../errors.ts";

/** What a call does, for deciding whether it may be sent again after a failure whose outcome is unknown. */
export type CallKind = "read" | "list" | "delete" | "overwrite" | "conditional";

/** How a failed try ended. */
export type FailureKind =
  /** Refused before anything was applied (throttling, 503, a refused connection): safe to send again. */
  | "transient"
  /** May have been applied (a time-out or reset after the request went out): only idempotent calls go again. */
  | "unknown"
  /** Lost to a concurrent writer that got in first (a log append's compare-and-swap): read again, try again. */
  | "conflict"
  /** Anything else: not tried again. */
  | "final";

export type Sleeper = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RetryOptions {
  /** Tries per call, the first included; 1 means never again. Default 3 on S3, 4 elsewhere. */
  readonly attempts?: number;
  /** The wait before the first retry, before jitter; it doubles per retry. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** The longest wait between two tries, before jitter. Default 5 s. */
  readonly maxDelayMs?: number;
  /** "full": a random wait up to the delay; "equal": from half the delay to all of it; "none". Default "full". */
  readonly jitter?: "full" | "equal" | "none";
  /** Calls sent again after a failure that may have been applied. Default all but "conditional" (create-only and
   * compare-and-swap writes, appends), whose lost answers are settled by reading the object back instead. */
  readonly idempotent?: readonly CallKind[];
  /** Tries of a write that keeps losing to concurrent writers (a log append's compare-and-swap), the first
   * included; 1 means a conflict is final. Default 200. */
  readonly conflictAttempts?: number;
  /** Waits `ms` (rejects when `signal` aborts). Default: a timer. Tests pass one that returns at once. */
  readonly sleep?: Sleeper;
  /** A number in [0, 1) for the jitter. Default Math.random. */
  readonly random?: () => number;
}

const DEFAULTS = {
  attempts: 4,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  jitter: "full",
  idempotent: ["read", "list", "delete", "overwrite"],
  conflictAttempts: 200,
} as const satisfies RetryOptions;

const JITTERS = ["full", "equal", "none"] as const;
const CALL_KINDS: readonly CallKind[] = ["read", "list", "delete", "overwrite", "conditional"];

export class RetryPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: "full" | "equal" | "none";
  readonly idempotent: readonly CallKind[];
  readonly conflictAttempts: number;
  readonly #sleep: Sleeper;
  readonly #random: () => number;

  /** `defaults` fill what `options` leave out (a backend's own defaults), then the library's. */
  constructor(options: RetryOptions = {}, defaults: RetryOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(`The retry option must be an object such as { attempts: 3 }, got ${String(options)}.`);
    }
    const pick = <K extends keyof RetryOptions>(key: K) => options[key] ?? defaults[key];
    this.attempts = checkInteger("attempts", pick("attempts") ?? DEFAULTS.attempts, 1);
    this.baseDelayMs = checkInteger("baseDelayMs", pick("baseDelayMs") ?? DEFAULTS.baseDelayMs, 0);
    this.maxDelayMs = checkInteger("maxDelayMs", pick("maxDelayMs") ?? DEFAULTS.maxDelayMs, this.baseDelayMs);
    this.conflictAttempts = checkInteger("conflictAttempts", pick("conflictAttempts") ?? DEFAULTS.conflictAttempts, 1);
    this.jitter = checkOneOf("jitter", pick("jitter") ?? DEFAULTS.jitter, JITTERS);
    const idempotent: unknown = pick("idempotent") ?? DEFAULTS.idempotent;
    if (!Array.isArray(idempotent)) throw invalid("idempotent", idempotent, `a list of ${CALL_KINDS.join(", ")}`);
    this.idempotent = idempotent.map((kind: unknown) => checkOneOf("idempotent", kind, CALL_KINDS));
    // The library's clock, looked up at each wait, so that a test's manual clock governs policies built before it.
    this.#sleep = checkFunction("sleep", pick("sleep")) ?? ((ms, signal) => clock().sleep(ms, signal));
    this.#random = checkFunction("random", pick("random")) ?? Math.random;
  }

  /** The policy as plain options (without `sleep` and `random`), to rebuild it in another thread. */
  get options(): RetryOptions {
    const { attempts, baseDelayMs, maxDelayMs, jitter, conflictAttempts } = this;
    return { attempts, baseDelayMs, maxDelayMs, jitter, idempotent: [...this.idempotent], conflictAttempts };
  }

  /** The wait before retry number `retry` (1 for the first retry): base · 2^(retry-1), capped, then jittered. */
  delayMs(retry: number): number {
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(Math.max(retry - 1, 0), 52));
    const floor = this.jitter === "full" ? 0 : this.jitter === "equal" ? delay / 2 : delay;
    return floor + this.#random() * (delay - floor);
  }

  /** Waits before retry number `retry`; rejects with the signal's reason when it aborts. */
  async wait(retry: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.#sleep(this.delayMs(retry), signal);
    signal?.throwIfAborted();
  }

  /**
   * Waits before retry number `retry` and resolves true, or resolves false at once when that wait would end at or
   * after `deadline` (milliseconds since the epoch): for loops bounded by time rather than by tries.
   */
  async waitBefore(retry: number, deadline: number): Promise<boolean> {
    const delay = this.delayMs(retry);
    if (Date.now() + delay >= deadline) return false;
    await this.#sleep(delay);
    return true;
  }

  /** Whether a call of `kind` that has been tried `tries` times and just failed this way is tried again. */
  mayRetry(kind: CallKind, failure: FailureKind, tries: number): boolean {
    if (failure === "conflict") return tries < this.conflictAttempts;
    return tries < this.attempts && (failure === "transient" || (failure === "unknown" && this.idempotent.includes(kind)));
  }

  /** Runs `call` until it succeeds or the policy says stop (`classify` tells how a failure ended), waiting between
   * tries; rethrows the last failure. */
  async run<T>(kind: CallKind, call: () => Promise<T>, classify: (error: unknown) => FailureKind, signal?: AbortSignal): Promise<T> {
    let conflicts = 0;
    let failures = 0;
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const failure = signal?.aborted === true ? "final" : classify(error);
        const tries = failure === "conflict" ? ++conflicts : ++failures;
        if (!this.mayRetry(kind, failure, tries)) throw error;
        await this.wait(tries, signal);
      }
    }
  }
}

/** The policy of backends given none. */
export const DEFAULT_RETRY_POLICY = new RetryPolicy();

/** One try, no waits. */
export const NO_RETRY = new RetryPolicy({ attempts: 1, conflictAttempts: 1 });

/** `options` with `policy` as plain data, cloned for another thread; undefined when they hold what cannot cross. */
export function portableOptions<T extends { readonly retry?: RetryOptions }>(options: T, policy: RetryPolicy): T | undefined {
  try {
    return structuredClone({ ...options, retry: policy.options });
  } catch {
    return undefined;
  }
}

/** The policy of `backend`, or the default one for a backend that has none. */
export function retryPolicyOf(backend: { readonly retryPolicy?: RetryPolicy | undefined }): RetryPolicy {
  return backend.retryPolicy ?? DEFAULT_RETRY_POLICY;
}

function checkInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) throw invalid(name, value, `an integer ≥ ${min}`);
  return value;
}

function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalid(name, value, allowed.map((each) => `"${each}"`).join(", "));
  return value as T;
}

function checkFunction<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== "function") throw invalid(name, value, "a function");
  return value;
}

function invalid(name: string, value: unknown, expected: string): InvalidArgumentError {
  return new InvalidArgumentError(`Retry option ${name} must be ${expected}, got ${JSON.stringify(value) ?? String(value)}.`);
}
