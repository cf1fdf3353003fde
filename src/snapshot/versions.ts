/**
 * Version allocation. A version exists when its claim object exists; claims are written create-only, so two
 * writers can never own one number, and a loser moves on to the next number without overwriting anything.
 * A conditional write whose answer was lost (TRANSIENT) is settled by reading the claim back and comparing the
 * writer's token, never by guessing.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import type { StorageBackend } from "../backends/backend.ts";
import { CREATE_ONLY, ifRevision } from "../backends/backend.ts";
import { CorruptDataError, isOpenCrateError, TransientError } from "../errors.ts";
import { claimKey, claimsPrefix, latestHintKey, parseVersionFolderName, runRecordKey, versionOfClaimKey } from "./layout.ts";

export interface VersionClaim {
  readonly version: number;
  readonly tag: string | undefined;
  readonly runId: string | undefined;
  readonly host: string;
  readonly pid: number;
  readonly createdAt: string;
  readonly token: string;
}

export interface AllocateOptions {
  readonly tag: string | undefined;
  readonly runId: string | undefined;
}

export interface AllocationResult {
  readonly claim: VersionClaim;
  /** True when this call created the claim; false when it joined one (a rank of the same run, or `last` racing). */
  readonly created: boolean;
}

const MAX_AMBIGUOUS_RETRIES = 5;
const RUN_RECORD_WAIT_MS = 120_000;

export class VersionStore {
  readonly #backend: StorageBackend;
  readonly #name: string;

  constructor(backend: StorageBackend, name: string) {
    this.#backend = backend;
    this.#name = name;
  }

  /** Every claim, ascending by version. */
  async listClaims(): Promise<VersionClaim[]> {
    const versions = await this.listVersionNumbers();
    return Promise.all(versions.map((version) => this.readClaim(version))).then((claims) =>
      claims.filter((claim): claim is VersionClaim => claim !== undefined),
    );
  }

  /** The claimed version numbers, ascending. */
  async listVersionNumbers(startAfter?: number): Promise<number[]> {
    const versions: number[] = [];
    const options = startAfter === undefined ? {} : { startAfter: claimKey(this.#name, startAfter) };
    for await (const info of this.#backend.list(claimsPrefix(this.#name), options)) {
      const version = versionOfClaimKey(this.#name, info.key);
      if (version !== undefined) versions.push(version);
    }
    return versions.sort((a, b) => a - b);
  }

  /** The highest claimed version, or undefined when there is none. Starts from the hint when there is one. */
  async highest(): Promise<number | undefined> {
    const hint = await this.#readHint();
    if (hint !== undefined && hint > 0) {
      const after = await this.listVersionNumbers(hint - 1);
      if (after.length > 0) return after.at(-1);
    }
    return (await this.listVersionNumbers()).at(-1);
  }

  /** The version folders that hold anything (`v3`, `v3:tag`), parsed; sibling folders made by resuming included. */
  async listFolders(): Promise<{ version: number; tag: string | undefined }[]> {
    const folders: { version: number; tag: string | undefined }[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.#backend.listPage(`${this.#name}/`, pageToken === undefined ? {} : { pageToken });
      for (const prefix of page.prefixes) {
        const parsed = parseVersionFolderName(prefix.slice(this.#name.length + 1, -1));
        if (parsed !== undefined) folders.push(parsed);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    return folders;
  }

  async readClaim(version: number): Promise<VersionClaim | undefined> {
    const key = claimKey(this.#name, version);
    let bytes: Uint8Array;
    try {
      bytes = await this.#backend.get(key);
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
      throw error;
    }
    return parseClaim(bytes, this.#backend.describe(key));
  }

  /** Claims the next free number. */
  async allocateNew(options: AllocateOptions): Promise<VersionClaim> {
    let candidate = ((await this.highest()) ?? -1) + 1;
    // One claim (one token) per number: a retry after an unknown outcome must recognise its own earlier write.
    let claim = newClaim(candidate, options);
    let ambiguous = 0;
    let lost = 0;
    for (;;) {
      const { outcome } = await this.#tryClaim(claim);
      if (outcome === "won") {
        await this.#writeHint(candidate);
        return claim;
      }
      if (outcome === "unknown") {
        if (++ambiguous > MAX_AMBIGUOUS_RETRIES) {
          throw new TransientError(
            `Could not claim version ${candidate} at ${this.#backend.describe(claimKey(this.#name, candidate))}: the store kept failing.`,
            { path: this.#backend.describe(claimKey(this.#name, candidate)) },
          );
        }
        await sleep(backoffMs(ambiguous));
        continue;
      }
      lost += 1;
      // After a few lost races, jump to the end of the listing instead of walking one number at a time.
      candidate = lost % 4 === 0 ? Math.max(candidate + 1, ((await this.highest()) ?? -1) + 1) : candidate + 1;
      claim = newClaim(candidate, options);
    }
  }

  /** Claims `version` if it is free; returns the existing claim when another writer has it. */
  async claimOrJoin(version: number, options: AllocateOptions): Promise<AllocationResult> {
    const claim = newClaim(version, options);
    for (let attempt = 1; ; attempt++) {
      const { outcome, stored } = await this.#tryClaim(claim);
      if (outcome === "won") {
        await this.#writeHint(version);
        return { claim, created: true };
      }
      if (outcome === "lost" && stored !== undefined) return { claim: stored, created: false };
      if (attempt > MAX_AMBIGUOUS_RETRIES) {
        throw new TransientError(`Could not claim or read version ${version} of ${this.#backend.describe(this.#name)}.`);
      }
      await sleep(backoffMs(attempt));
    }
  }

  /**
   * Ranks of one job (same runId) share one version with exactly one allocation: the first to create the run
   * record allocates; the others wait for the record to name the version.
   */
  async allocateForRun(runId: string, options: AllocateOptions): Promise<AllocationResult> {
    const key = runRecordKey(this.#name, runId);
    const existing = await this.#readRunRecord(key);
    if (existing?.version !== undefined) return this.#joinRun(existing.version, key);
    const token = randomUUID();
    if (existing !== undefined || !(await this.#createRunRecord(key, runId, token))) return this.#waitForRun(key);
    const claim = await this.allocateNew(options);
    await this.#recordRunVersion(key, runId, token, claim.version);
    return { claim, created: true };
  }

  /**
   * Creates the run record, create-only. True when this call created it: settled by the token stored in the
   * record, since an ALREADY_EXISTS may be our own earlier attempt whose answer was lost, and a TRANSIENT may
   * have landed.
   */
  async #createRunRecord(key: string, runId: string, token: string): Promise<boolean> {
    const body = JSON.stringify({ runId, token, state: "allocating" });
    for (let attempt = 1; ; attempt++) {
      let failure: unknown;
      try {
        await this.#backend.put(key, body, { mode: CREATE_ONLY, metadata: { "oc-token": token } });
        return true;
      } catch (error) {
        if (!isOpenCrateError(error, "ALREADY_EXISTS") && !isOpenCrateError(error, "TRANSIENT")) throw error;
        failure = error;
      }
      try {
        const record = await this.#readRunRecord(key);
        if (record !== undefined) return record.token === token;
      } catch (error) {
        if (!isOpenCrateError(error, "TRANSIENT")) throw error;
        failure = error;
      }
      // Absent or unreadable: send the same write (same token) again.
      if (attempt >= MAX_AMBIGUOUS_RETRIES) throw failure;
      await sleep(backoffMs(attempt));
    }
  }

  /** Names the version in the run record (compare-and-swap), so the other ranks can join it. */
  async #recordRunVersion(key: string, runId: string, token: string, version: number): Promise<void> {
    const body = JSON.stringify({ runId, token, state: "allocated", version });
    for (let attempt = 1; ; attempt++) {
      try {
        const record = await this.#readRunRecord(key);
        if (record?.version === version) return; // an earlier attempt whose answer was lost did land
        const current = await this.#backend.head(key);
        await this.#backend.put(key, body, { mode: ifRevision(current.revision) });
        return;
      } catch (error) {
        const retryable = isOpenCrateError(error, "TRANSIENT") || isOpenCrateError(error, "PRECONDITION_FAILED");
        if (!retryable || attempt >= MAX_AMBIGUOUS_RETRIES) throw error;
      }
      await sleep(backoffMs(attempt));
    }
  }

  async #joinRun(version: number, key: string): Promise<AllocationResult> {
    const claim = await this.readClaim(version);
    if (claim === undefined) {
      throw new CorruptDataError(
        `The run record ${this.#backend.describe(key)} names version ${version}, which has no claim.`,
        { path: this.#backend.describe(key) },
      );
    }
    return { claim, created: false };
  }

  async #waitForRun(key: string): Promise<AllocationResult> {
    const deadline = Date.now() + RUN_RECORD_WAIT_MS;
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      const record = await this.#readRunRecord(key);
      if (record?.version !== undefined) return this.#joinRun(record.version, key);
      await sleep(Math.min(50 * attempt, 1000));
    }
    throw new TransientError(
      `Waited ${RUN_RECORD_WAIT_MS / 1000} s for another rank to allocate the version in ${this.#backend.describe(key)}; ` +
        "if that rank died, delete the record and start again.",
      { path: this.#backend.describe(key) },
    );
  }

  async #readRunRecord(key: string): Promise<{ token?: string; version?: number } | undefined> {
    try {
      const text = Buffer.from(await this.#backend.get(key)).toString("utf8");
      const record = JSON.parse(text) as { token?: unknown; version?: unknown };
      return {
        ...(typeof record.token === "string" ? { token: record.token } : {}),
        ...(typeof record.version === "number" ? { version: record.version } : {}),
      };
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) return undefined;
      if (error instanceof SyntaxError) {
        throw new CorruptDataError(`The run record ${this.#backend.describe(key)} is not valid JSON.`, {
          path: this.#backend.describe(key),
          cause: error,
        });
      }
      throw error;
    }
  }

  /**
   * Writes the claim create-only and settles the outcome by the token stored in the claim: an ALREADY_EXISTS may
   * be our own earlier attempt (an answer lost, then the write retried by the SDK or by us; backends whose own
   * read-back fails report such a write as ALREADY_EXISTS), and a TRANSIENT may have landed. "unknown" when the
   * claim cannot be read back either; the caller then retries the same claim.
   */
  async #tryClaim(claim: VersionClaim): Promise<{ outcome: "won" | "lost" | "unknown"; stored?: VersionClaim }> {
    const key = claimKey(this.#name, claim.version);
    try {
      await this.#backend.put(key, `${JSON.stringify(claim, null, 2)}\n`, {
        mode: CREATE_ONLY,
        contentType: "application/json",
        metadata: { "oc-token": claim.token },
      });
      return { outcome: "won" };
    } catch (error) {
      if (!isOpenCrateError(error, "ALREADY_EXISTS") && !isOpenCrateError(error, "TRANSIENT")) throw error;
    }
    try {
      const stored = await this.readClaim(claim.version);
      if (stored === undefined) return { outcome: "unknown" };
      return { outcome: stored.token === claim.token ? "won" : "lost", stored };
    } catch (readError) {
      if (isOpenCrateError(readError, "TRANSIENT")) return { outcome: "unknown" };
      throw readError;
    }
  }

  async #readHint(): Promise<number | undefined> {
    try {
      const parsed = JSON.parse(Buffer.from(await this.#backend.get(latestHintKey(this.#name))).toString("utf8")) as {
        version?: unknown;
      };
      return typeof parsed.version === "number" && Number.isSafeInteger(parsed.version) ? parsed.version : undefined;
    } catch {
      return undefined; // the hint is advisory: missing, stale or unreadable costs a longer listing, never correctness
    }
  }

  async #writeHint(version: number): Promise<void> {
    try {
      await this.#backend.put(latestHintKey(this.#name), JSON.stringify({ version }));
    } catch {
      // advisory only
    }
  }
}

function newClaim(version: number, options: AllocateOptions): VersionClaim {
  return {
    version,
    tag: options.tag,
    runId: options.runId,
    host: hostname(),
    pid: process.pid,
    createdAt: new Date().toISOString(),
    token: randomUUID(),
  };
}

function parseClaim(bytes: Uint8Array, where: string): VersionClaim {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8")) as Record<string, unknown>;
  } catch (error) {
    throw new CorruptDataError(`The version claim ${where} is not valid JSON.`, { path: where, cause: error });
  }
  if (typeof parsed.version !== "number" || typeof parsed.token !== "string") {
    throw new CorruptDataError(`The version claim ${where} lacks a version number or token.`, { path: where });
  }
  return {
    version: parsed.version,
    tag: typeof parsed.tag === "string" ? parsed.tag : undefined,
    runId: typeof parsed.runId === "string" ? parsed.runId : undefined,
    host: typeof parsed.host === "string" ? parsed.host : "",
    pid: typeof parsed.pid === "number" ? parsed.pid : 0,
    createdAt: typeof parsed.createdAt === "string" ? parsed.createdAt : "",
    token: parsed.token,
  };
}

function backoffMs(attempt: number): number {
  return Math.min(2000, 25 * 2 ** attempt) * (0.5 + Math.random());
}
