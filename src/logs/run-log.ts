/**
 * This run's `.log`: replaced by an empty object when the run starts, then grown by each flush.
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
 * Without `append`, the whole body is kept in memory and rewritten on each flush.
 */
import { randomBytes } from "node:crypto";
import type { StorageBackend } from "../backends/backend.ts";
import { OVERWRITE } from "../backends/backend.ts";
import { headIfPresent } from "../backends/presence.ts";
import { isOpenCrateError } from "../errors.ts";
import { BATCH_IDS_METADATA_KEY, concatBytes, REMEMBERED_BATCHES, TEXT_CONTENT_TYPE } from "./history-append.ts";

/**
 * What a started `.log` that holds no line yet needs to go on in another thread: nothing where `.log` is rewritten
 * whole; the revision and size its empty object got where lines are appended.
 */
export type StartedRunLog =
  | { readonly kind: "rewritten" }
  | { readonly kind: "appended"; readonly revision: string; readonly size: number };

export interface RunLog {
  /** Replaces `.log` with an empty object. */
  start(): Promise<void>;
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
  return append === undefined ? new RewrittenRunLog(backend, key) : new AppendedRunLog(backend, key, append, onReplaced);
}

class RewrittenRunLog implements RunLog {
  readonly #backend: StorageBackend;
  readonly #key: string;
  /** Every line of this run: the `.log` body. */
  #body: Uint8Array[] = [];
  #stale = false;

  constructor(backend: StorageBackend, key: string) {
    this.#backend = backend;
    this.#key = key;
  }

  async start(): Promise<void> {
    await this.#backend.put(this.#key, "", { mode: OVERWRITE, contentType: TEXT_CONTENT_TYPE });
  }

  startedState(): StartedRunLog {
    return { kind: "rewritten" };
  }

  adopt(state: StartedRunLog): void {
    if (state.kind !== "rewritten") throw new Error(`${this.#key} is rewritten whole here, but was handed over as ${state.kind}`);
  }

  add(bytes: Uint8Array): void {
    this.#body.push(bytes);
    this.#stale = true;
  }

  async store(): Promise<void> {
    if (!this.#stale) return;
    const body = concatBytes(this.#body);
    this.#body = [body];
    await this.#backend.put(this.#key, body, { mode: OVERWRITE, contentType: TEXT_CONTENT_TYPE });
    this.#stale = false;
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

  async start(): Promise<void> {
    const info = await this.#backend.put(this.#key, "", { mode: OVERWRITE, contentType: TEXT_CONTENT_TYPE });
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
