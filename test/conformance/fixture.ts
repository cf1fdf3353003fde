/** What every conformance case gets: a way to declare a test that runs on a fresh backend, and the options. */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { StorageBackend } from "../../src/backends/backend.ts";
import type { BackendFactory } from "../support/backends.ts";
import { checkedBackend } from "../../src/backends/layers/checked.ts";

export interface ConformanceOptions {
  /** Run the concurrency cases (many writers on one key). Default true. */
  readonly races?: boolean;
  /** The backend streams in constant memory, so the big-stream case bounds RSS growth. Default true; false for
   * the memory backend, which holds every object in RAM by design. */
  readonly constantMemory?: boolean;
  /** The backend implements the optional `append`. Default true; when false the suite asserts it has none. */
  readonly append?: boolean;
}

/** A guard, not a timing assertion: a hung case fails with its name instead of stalling the whole run. */
const CASE_TIMEOUT_MS = 10 * 60 * 1000;

export class ConformanceFixture {
  readonly factory: BackendFactory;
  readonly options: ConformanceOptions;

  constructor(factory: BackendFactory, options: ConformanceOptions) {
    this.factory = factory;
    this.options = options;
  }

  /** A case about the optional `append`, for backends declared to have one (see appendCases for the others). */
  itAppend(name: string, body: (backend: StorageBackend, append: NonNullable<StorageBackend["append"]>) => Promise<void>): void {
    it(name, { timeout: CASE_TIMEOUT_MS }, async () => {
      const backend = checkedBackend(await this.factory.make());
      try {
        if (backend.append === undefined) assert.fail(`the ${backend.kind} backend was declared to have append but has none`);
        await body(backend, backend.append.bind(backend));
      } finally {
        await backend.close();
      }
    });
  }

  /** Declares one case; it runs on a backend fresh from `factory.make()`, closed afterwards. */
  it(name: string, body: (backend: StorageBackend) => Promise<void>): void {
    it(name, { timeout: CASE_TIMEOUT_MS }, async () => {
      const backend = checkedBackend(await this.factory.make());
      try {
        await body(backend);
      } finally {
        await backend.close();
      }
    });
  }
}
