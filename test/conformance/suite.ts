/**
 * The one storage backend conformance suite. Every backend (memory, local, S3 on MinIO and moto, GCS on
 * fake-gcs-server) runs these cases unchanged:
 *
 *   describeBackendConformance("local", localFactory());
 *
 * Each case gets a fresh, empty backend from `factory.make()`; `factory.cleanup()` runs once at the end.
 * OPENCRATE_CONFORMANCE_BIG_MB shrinks the big-stream case on a laptop (default 256; CI uses the default).
 */
import { after, describe } from "node:test";
import type { BackendFactory } from "../support/backends.ts";
import { appendCases } from "./cases/append.ts";
import { basicCases } from "./cases/basic.ts";
import { conditionalCases } from "./cases/conditional.ts";
import { contractCases } from "./cases/contract.ts";
import { errorCases } from "./cases/errors.ts";
import { listingCases } from "./cases/listing.ts";
import { raceCases } from "./cases/races.ts";
import { rangeCases } from "./cases/ranges.ts";
import { streamingCases } from "./cases/streaming.ts";
import { ConformanceFixture, type ConformanceOptions } from "./fixture.ts";

export type { ConformanceOptions } from "./fixture.ts";

export function describeBackendConformance(
  label: string,
  factory: BackendFactory,
  options: ConformanceOptions = {},
): void {
  describe(`${label} backend conformance`, { skip: factory.skip }, () => {
    const fixture = new ConformanceFixture(factory, options);
    after(() => factory.cleanup());
    describe("basics", () => basicCases(fixture));
    describe("byte ranges", () => rangeCases(fixture));
    describe("listing", () => listingCases(fixture));
    describe("conditional writes", () => conditionalCases(fixture));
    describe("streaming", () => streamingCases(fixture));
    describe("errors", () => errorCases(fixture));
    describe("checked input, capabilities and aborts", () => contractCases(fixture));
    describe("append", () => appendCases(fixture));
    if (options.races !== false) describe("races", () => raceCases(fixture));
  });
}
