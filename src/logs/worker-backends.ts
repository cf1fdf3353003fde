/**
 * The log-writer thread's backends, one per recipe, shared by the runs that store there. Building a backend per
 * run cost each run a new SDK client (its configuration, signing key and connections); a process opening many runs
 * on one root now keeps one. A backend no open run uses stays for the next run, up to a few of them, the oldest
 * closed first; the thread's own stop ends the rest.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { backendFromRecipe, type BackendRecipe } from "./backend-recipe.ts";

/** Backends kept without an open run. */
const IDLE_KEPT = 4;

interface Entry {
  readonly backend: StorageBackend;
  users: number;
}

export class WorkerBackends {
  /** By recipe, in order of last release (the first idle one is the oldest). */
  readonly #entries = new Map<string, Entry>();

  /** The backend `recipe` describes, built on first use. Give it back with `release`. */
  acquire(recipe: BackendRecipe): StorageBackend {
    const key = JSON.stringify(recipe);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { backend: backendFromRecipe(recipe), users: 0 };
      this.#entries.set(key, entry);
    }
    entry.users += 1;
    return entry.backend;
  }

  /** A run no longer uses `backend`; past the idle limit the oldest unused backend is closed. */
  async release(backend: StorageBackend): Promise<void> {
    for (const [key, entry] of this.#entries) {
      if (entry.backend !== backend) continue;
      entry.users -= 1;
      // Re-inserted, so the map's order stays the order of last release.
      this.#entries.delete(key);
      this.#entries.set(key, entry);
      break;
    }
    const idle = [...this.#entries].filter(([, entry]) => entry.users === 0);
    for (const [key, entry] of idle.slice(0, Math.max(0, idle.length - IDLE_KEPT))) {
      this.#entries.delete(key);
      await entry.backend.close().catch(() => {});
    }
  }
}
