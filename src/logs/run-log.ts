/**
 * This run's `.log`: replaced by an empty object when the run starts, then grown by each flush.
 *
 * Every write names what it expects to find: the empty object of a new run is created only where there is none
 * (in a version the run just took, one found there is another writer's: the start fails and leaves it alone),
 * and each write after it names the revision the one before left (`ifRevision`), as does the start of a run that
 * replaces an older `.log` (the revision it just read). So a write of ours whose request reaches the store late,
 * after its retry already landed and later writes followed, fails its condition instead of putting back an older
 * body. The backend settles its own retries of a conditional write (a lost answer whose write landed is ours).
 *
 * On a backend with `append`, a flush sends only the lines it adds, and stored lines are not kept in memory. Each
 * append names the revision the previous one left (`ifRevision`), so a `.log` that another run resuming the same
 * version replaced meanwhile is never mixed with ours: that run owns `.log` from then on ("replaced by each
 * run"), and this one stops writing it (`onReplaced`; a resumed run's lines still reach the history).
 *
 * A lost answer is told apart from such a replacement by the batch ids kept in the object's metadata
 * (`oc-batches`, as in history-append.ts): ids of ours there mean our append landed. A store without metadata
 * (local disk) cannot say that; there an append that failed is cut back by the backend, so after a failure the
 * same size as before means nothing of ours landed.
 *
 * Without `append`, the whole body is kept in memory and rewritten on each flush, under the revision the last
 * rewrite left, and so another run's `.log` is not overwritten either: this run stops writing it as above. Each
 * rewrite carries this writer's id (`oc-writer` metadata), which tells a rewrite of ours whose answer was lost from
 * another run's `.log`; on a store without metadata, a non-empty body that starts ours is ours.
 */
import { randomBytes } from "node:crypto";
import type { ObjectInfo, StorageBackend, WriteMode } from "../backends/backend.ts";
import { CREATE_ONLY, ifRevision, OVERWRITE } from "../backends/backend.ts";
import { headIfPresent } from "../backends/presence.ts";
import { enforcesConditions, lostCondition } from "../backends/conditions.ts";
import { retryPolicyOf } from "../backends/retry-policy.ts";
import { AlreadyExistsError, isOpenCrateError } from "../errors.ts";
import { BATCH_IDS_METADATA_KEY, concatBytes, REMEMBERED_BATCHES, TEXT_CONTENT_TYPE } from "./history-append.ts";

/**
 * What a started `.log` that holds no line yet needs to go on in another thread: the revision its empty object got
 * (undefined on a store without conditional writes) and, where `.log` is rewritten whole, the writer id its writes
 * carry; the revision and size where lines are appended.
 */
export type StartedRunLog =
  | { readonly kind: "rewritten"; readonly revision: string | undefined; readonly writer: string }
  | { readonly kind: "appended"; readonly revision: string; readonly size: number };

/** User-metadata key naming the writer of a `.log` that is rewritten whole. */
export const LOG_WRITER_METADATA_KEY = "oc-writer";

/**
 * How a run's start treats a `.log` already there: `"replace"`, a resumed run's, likely there, replaced under the
 * revision read; `"create"`, none expected, but one found is replaced (a folder `replace` empties, the scratch
 * folder); `"create-only"`, a version this run just took: one found there is another writer's, left as it is, and
 * the start fails ALREADY_EXISTS naming it.
 */
export type LogStart = "replace" | "create" | "create-only";

export interface RunLog {
  /** Writes an empty `.log` (see {@link LogStart}). */
  start(mode: LogStart): Promise<void>;
  /** Where the started, still empty `.log` stands (see {@link StartedRunLog}). */
  startedState(): StartedRunLog;
  /** Takes over a `.log` another writer started and left empty. */
  adopt(state: StartedRunLog): void;
  /** Queues lines (ending in "\n") for the next `store`. */
  add(bytes: Uint8Array): void;
  /** Stores the queued lines; on failure they stay queued. */
  store(): Promise<void>;
}

export function runLogFor(backend: StorageBackend, key: string, onReplaced: () => void): RunLog {
  const append = backend.append?.bind(backend);
  return append === undefined ? new RewrittenRunLog(backend, key, onReplaced) : new AppendedRunLog(backend, key, append, onReplaced);
}

/** Rewrites of `.log` in one store after finding a late write of our own there. */
const REWRITE_ATTEMPTS = 3;

/**
 * Writes an empty `.log` in place of whatever is there: create-only where there is none (expected unless
 * `"replace"`), else under the revision just read; when another run got in between, looks again (after the retry
 * policy's wait) as often as the policy allows conflicts. `"create-only"` never replaces: see {@link createOnly}.
 * Without conditional writes, one plain put.
 */
async function putEmpty(backend: StorageBackend, key: string, mode: LogStart, metadata: Readonly<Record<string, string>> | undefined): Promise<ObjectInfo> {
  const options = { contentType: TEXT_CONTENT_TYPE, ...(metadata === undefined ? {} : { metadata }) };
  if (mode === "create-only" && backend.capabilities.createOnly) return createOnly(backend, key, options);
  if (!enforcesConditions(backend)) return backend.put(key, "", { ...options, mode: OVERWRITE });
  const policy = retryPolicyOf(backend);
  let look = mode === "replace";
  let conflicts = 0;
  for (;;) {
    let mode: WriteMode = CREATE_ONLY;
    if (look) {
      const current = await headIfPresent(backend, key);
      if (current !== undefined) mode = ifRevision(current.revision);
    }
    try {
      return await backend.put(key, "", { ...options, mode });
    } catch (error) {
      if (!lostCondition(error) || (look && !policy.mayRetry("conditional", "conflict", ++conflicts))) throw error;
    }
    if (look) await policy.wait(conflicts);
    look = true;
  }
}

/**
 * The empty `.log` of a version the run just took, created only where there is none. One there was written by
 * another writer that took the folder meanwhile (another tool numbering the same version): ALREADY_EXISTS, and it
 * is left as it is. A backend that does not settle its own conditional writes may report our own earlier send,
 * landed with its answer lost, so there an empty object carrying this write's writer id is ours (a `.log` that is
 * appended to gets a writer id for this write alone).
 */
async function createOnly(backend: StorageBackend, key: string, options: { contentType: string; metadata?: Readonly<Record<string, string>> }): Promise<ObjectInfo> {
  const metadata = options.metadata ?? { [LOG_WRITER_METADATA_KEY]: randomBytes(8).toString("hex") };
  try {
    return await backend.put(key, "", { ...options, metadata, mode: CREATE_ONLY });
  } catch (error) {
    if (!lostCondition(error)) throw error;
    if (backend.capabilities.settlesConditionalWrites !== true && backend.capabilities.userMetadata !== false) {
      const current = await headIfPresent(backend, key);
      const stored = current?.metadata ?? {};
      if (current?.size === 0 && Object.entries(metadata).every(([name, value]) => stored[name] === value)) return current;
    }
    throw new AlreadyExistsError(
      `${backend.describe(key)} already exists: another writer wrote it into the version this run had just taken. ` +
        "It is left as it is, and this run does not write into that folder.",
      { path: backend.describe(key), cause: error },
    );
  }
}

class RewrittenRunLog implements RunLog {
  readonly #backend: StorageBackend;
  readonly #key: string;
  readonly #onReplaced: () => void;
  /** Every line of this run: the `.log` body. */
  #body: Uint8Array[] = [];
  #stale = false;
  /** The revision our last write left; undefined before the start, or on a store without conditional writes. */
  #revision: string | undefined;
  /** Carried by each write of ours (metadata), so a write of ours that landed with its answer lost is told apart
   * from another run's `.log`. Kept across a hand-off. */
  #writer = randomBytes(8).toString("hex");
  /** Another run replaced `.log`; nothing more is written. */
  #replaced = false;

  constructor(backend: StorageBackend, key: string, onReplaced: () => void) {
    this.#backend = backend;
    this.#key = key;
    this.#onReplaced = onReplaced;
  }

  async start(mode: LogStart): Promise<void> {
    const info = await putEmpty(this.#backend, this.#key, mode, this.#metadata());
    this.#revision = enforcesConditions(this.#backend) ? info.revision : undefined;
  }

  startedState(): StartedRunLog {
    return { kind: "rewritten", revision: this.#revision, writer: this.#writer };
  }

  adopt(state: StartedRunLog): void {
    if (state.kind !== "rewritten") throw new Error(`${this.#key} is rewritten whole here, but was handed over as ${state.kind}`);
    this.#revision = state.revision;
    this.#writer = state.writer;
  }

  add(bytes: Uint8Array): void {
    if (this.#replaced) return;
    this.#body.push(bytes);
    this.#stale = true;
  }

  async store(): Promise<void> {
    if (!this.#stale || this.#replaced) return;
    const body = concatBytes(this.#body);
    this.#body = [body];
    for (let attempt = 1; ; attempt++) {
      const mode = this.#revision === undefined ? OVERWRITE : ifRevision(this.#revision);
      try {
        const info = await this.#backend.put(this.#key, body, { mode, contentType: TEXT_CONTENT_TYPE, metadata: this.#metadata() });
        if (this.#revision !== undefined) this.#revision = info.revision;
        this.#stale = false;
        return;
      } catch (error) {
        if (!lostCondition(error)) throw error;
      }
      const current = await headIfPresent(this.#backend, this.#key);
      if (current === undefined || !(await this.#isOurs(current, body)) || attempt >= REWRITE_ATTEMPTS) {
        this.#replaced = true;
        this.#body = [];
        this.#stale = false;
        this.#onReplaced();
        return;
      }
      this.#revision = current.revision;
    }
  }

  #metadata(): Record<string, string> {
    return { [LOG_WRITER_METADATA_KEY]: this.#writer };
  }

  /**
   * Whether `current` is a write of ours whose answer was lost (its body then starts ours): it carries our writer
   * id. A store without metadata cannot say so; there a body that is a start of ours, and not empty as a newly
   * started run's `.log` is, is ours.
   */
  async #isOurs(current: ObjectInfo, body: Uint8Array): Promise<boolean> {
    if (this.#backend.capabilities.userMetadata !== false) return current.metadata?.[LOG_WRITER_METADATA_KEY] === this.#writer;
    if (current.size === 0 || current.size > body.byteLength) return false;
    const stored = await this.#backend.get(this.#key, { ifRevision: current.revision });
    return Buffer.from(stored).equals(Buffer.from(body.buffer, body.byteOffset, stored.byteLength));
  }
}

interface Batch {
  readonly id: string;
  readonly bytes: Uint8Array;
}

type Append = NonNullable<StorageBackend["append"]>;

class AppendedRunLog implements RunLog {
  readonly #backend: StorageBackend;
  readonly #key: string;
  readonly #append: Append;
  readonly #onReplaced: () => void;
  /** What the last write of ours left: its revision, size and the batch ids in its metadata. */
  #stored: { revision: string; size: number; batchIds: readonly string[] } | undefined;
  #queue: Batch[] = [];
  /** An append failed without saying whether it landed. */
  #uncertain = false;
  /** Another run replaced `.log`; nothing more is written. */
  #replaced = false;

  constructor(backend: StorageBackend, key: string, append: Append, onReplaced: () => void) {
    this.#backend = backend;
    this.#key = key;
    this.#append = append;
    this.#onReplaced = onReplaced;
  }

  async start(mode: LogStart): Promise<void> {
    const info = await putEmpty(this.#backend, this.#key, mode, undefined);
    this.#stored = { revision: info.revision, size: info.size, batchIds: [] };
  }

  startedState(): StartedRunLog {
    if (this.#stored === undefined) throw new Error(`${this.#key} is not started`);
    return { kind: "appended", revision: this.#stored.revision, size: this.#stored.size };
  }

  adopt(state: StartedRunLog): void {
    if (state.kind !== "appended") throw new Error(`${this.#key} is appended to here, but was handed over as ${state.kind}`);
    this.#stored = { revision: state.revision, size: state.size, batchIds: [] };
  }

  add(bytes: Uint8Array): void {
    if (!this.#replaced) this.#queue.push({ id: randomBytes(8).toString("hex"), bytes });
  }

  async store(): Promise<void> {
    // Each lap stores the queue, fails, gives up, or finds some of it landed (or, once per failure, none of it).
    while (this.#queue.length > 0 && this.#stored !== undefined) {
      const batches = this.#queue.slice();
      const batchIds = [...this.#stored.batchIds, ...batches.map((batch) => batch.id)].slice(-REMEMBERED_BATCHES);
      try {
        const info = await this.#append(this.#key, concatBytes(batches.map((batch) => batch.bytes)), {
          ifRevision: this.#stored.revision,
          metadata: { [BATCH_IDS_METADATA_KEY]: batchIds.join(" ") },
        });
        this.#stored = { revision: info.revision, size: info.size, batchIds };
        this.#queue.splice(0, batches.length);
        this.#uncertain = false;
        return;
      } catch (error) {
        if (!isOpenCrateError(error, "PRECONDITION_FAILED") && !isOpenCrateError(error, "NOT_FOUND")) {
          this.#uncertain = true;
          throw error;
        }
      }
      if (!(await this.#resumeFromCurrent())) return this.#giveUp();
    }
  }

  /** After a lost compare: true (with the queue and `#stored` brought up to date) when `.log` is still ours. */
  async #resumeFromCurrent(): Promise<boolean> {
    const current = await headIfPresent(this.#backend, this.#key);
    if (current === undefined || this.#stored === undefined) return false;
    const listed = current.metadata?.[BATCH_IDS_METADATA_KEY]?.split(" ") ?? [];
    const lastListed = listed.at(-1);
    const landed = this.#queue.findIndex((batch) => batch.id === lastListed);
    if (landed !== -1) {
      this.#queue.splice(0, landed + 1);
      this.#stored = { revision: current.revision, size: current.size, batchIds: listed };
      return true;
    }
    if (this.#uncertain && this.#backend.capabilities.userMetadata === false && current.size === this.#stored.size) {
      this.#uncertain = false;
      this.#stored = { ...this.#stored, revision: current.revision };
      return true;
    }
    return false;
  }

  #giveUp(): void {
    this.#replaced = true;
    this.#queue = [];
    this.#onReplaced();
  }
}
