/**
 * The one storage backend conformance suite, exported as `opencrate/testing`. Every backend of the library
 * (memory, local, S3 on MinIO and moto, GCS on fake-gcs-server) and any third-party one runs these cases
 * unchanged, under node:test:
 *
 *   describeBackendConformance("my store", { make: async () => new MyBackend(...), cleanup: async () => {} });
 *
 * Each case gets a fresh, empty backend from `factory.make()`, behind the checking layer; cases that need a
 * capability the backend declares it lacks (`capabilities`, `append`) are skipped, saying which (as are the
 * conditional-delete cases on a store the backend finds ignores the condition: NotSupportedError);
 * `factory.cleanup()` runs once at the end; cases named in `options.knownGaps` run but report as TODO. OPENCRATE_CONFORMANCE_BIG_MB shrinks the big-stream case (default 256).
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { appendCases } from "./cases/append.ts";
import { basicCases } from "./cases/basic.ts";
import { conditionalCases } from "./cases/conditional.ts";
import { contractCases } from "./cases/contract.ts";
import { deleteCases } from "./cases/deletes.ts";
import { errorCases } from "./cases/errors.ts";
import { listingCases } from "./cases/listing.ts";
import { raceCases } from "./cases/races.ts";
import { rangeCases } from "./cases/ranges.ts";
import { streamingCases } from "./cases/streaming.ts";
import { ConformanceFixture, type BackendFactory, type ConformanceOptions } from "./fixture.ts";

export function describeBackendConformance(
  label: string,
  factory: BackendFactory,
  options: ConformanceOptions = {},
): void {
  describe(`${label} backend conformance`, { skip: factory.skip }, () => {
    const fixture = new ConformanceFixture(factory, options);
    after(() => factory.cleanup?.());
    describe("basics", () => basicCases(fixture));
    describe("byte ranges", () => rangeCases(fixture));
    describe("listing", () => listingCases(fixture));
    describe("conditional writes", () => conditionalCases(fixture));
    describe("conditional deletes", () => deleteCases(fixture));
    describe("streaming", () => streamingCases(fixture));
    describe("errors", () => errorCases(fixture));
    describe("checked input, capabilities and aborts", () => contractCases(fixture));
    describe("append", () => appendCases(fixture));
    if (options.races !== false) describe("races", () => raceCases(fixture));
    it("every known gap names a case of the suite", () => {
      const unknown = Object.keys(options.knownGaps ?? {}).filter((name) => !fixture.names.has(name));
      assert.deepEqual(unknown, [], "knownGaps names no such case");
    });
  });
}
