/** What every conformance case gets: a way to declare a test that runs on a fresh backend, and the options. */
import { it, type TestContext } from "node:test";
import type { BackendCapabilities, StorageBackend } from "../backends/backend.ts";
import { checkedBackend } from "../backends/layers/checked.ts";

/** Where the suite gets its backends. */
export interface BackendFactory {
  /** `false` (or absent) to run; a reason string to skip the whole suite (say, a server that is not running). */
  readonly skip?: false | string;
  /** A fresh, empty backend (for example rooted at a unique prefix); it is closed after each case. */
  make(): Promise<StorageBackend>;
  /** Deletes what `make` created; called once at the end. */
  cleanup?(): Promise<void>;
}

export interface ConformanceOptions {
  /** Run the concurrency cases (many writers on one key). Default true; false for a store known to lose races. */
  readonly races?: boolean;
  /** The backend streams in constant memory, so the big-stream case bounds RSS growth. Default true; false for a
   * backend that holds every object in RAM by design. */
  readonly constantMemory?: boolean;
  /** Cases (by their exact name) the backend is known to fail, each with the reason. They still run, and are
   * reported as TODO with that reason instead of failing the run; meant for a backend on its way to the contract. */
  readonly knownGaps?: Readonly<Record<string, string>>;
}

/** A capability a case needs; cases needing one the backend lacks are reported as skipped, naming it. */
export type Requirement =
  | keyof Pick<BackendCapabilities, "createOnly" | "compareAndSwap" | "copyCreateOnly" | "conditionalDelete">
  | OptionalMethod;

/** The optional methods of a backend that a case may need. */
type OptionalMethod = "append" | "readRangeInto";

/** A guard, not a timing assertion: a hung case fails with its name instead of stalling the whole run. */
const CASE_TIMEOUT_MS = 10 * 60 * 1000;

export class ConformanceFixture {
  readonly factory: BackendFactory;
  readonly options: ConformanceOptions;
  /** The names of the cases declared so far. */
  readonly names = new Set<string>();

  constructor(factory: BackendFactory, options: ConformanceOptions) {
    this.factory = factory;
    this.options = options;
  }

  /** A case about the optional `append`; skipped on a backend without it. */
  itAppend(name: string, body: (backend: StorageBackend, append: NonNullable<StorageBackend["append"]>) => Promise<void>): void {
    this.it(name, (backend) => body(backend, backend.append!.bind(backend)), ["append"]);
  }

  /** A case that needs capabilities; skipped where the backend lacks one. */
  itNeeding(requires: readonly Requirement[], name: string, body: (backend: StorageBackend, context: TestContext) => Promise<void>): void {
    this.it(name, body, requires);
  }

  /** Declares one case; it runs on a backend fresh from `factory.make()` behind the checking layer, closed
   * afterwards. A case whose `requires` the backend's capabilities do not meet is skipped, saying which. */
  it(name: string, body: (backend: StorageBackend, context: TestContext) => Promise<void>, requires: readonly Requirement[] = []): void {
    this.names.add(name);
    const gap = this.options.knownGaps?.[name];
    it(name, { timeout: CASE_TIMEOUT_MS, ...(gap === undefined ? {} : { todo: gap }) }, async (context) => {
      const backend = checkedBackend(await this.factory.make());
      try {
        const missing = requires.filter((need) =>
          need === "append" || need === "readRangeInto" ? backend[need] === undefined : backend.capabilities[need] !== true,
        );
        if (missing.length > 0) {
          context.skip(`the ${backend.kind} backend has no ${missing.join(", ")}`);
          return;
        }
        await body(backend, context);
      } finally {
        await backend.close();
      }
    });
  }
}
