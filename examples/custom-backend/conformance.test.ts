/**
 * Runs opencrate's conformance suite on the example backend:
 *
 *   node --test examples/custom-backend/conformance.test.ts
 *
 * (Node.js 22.12 to 22.17 need --experimental-strip-types before --test; in this repository add
 * --import ./scripts/use-sources.ts to run the TypeScript sources). Every case gets a fresh backend.
 */
import { describeBackendConformance } from "opencrate/testing";
import { MapBackend } from "./map-backend.ts";

describeBackendConformance("map (example)", { make: async () => new MapBackend() }, { constantMemory: false });
