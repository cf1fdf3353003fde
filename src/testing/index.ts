/** `opencrate/testing`: the conformance suite a StorageBackend proves itself with (see suite.ts). */
export { describeBackendConformance } from "./suite.ts";
export type { BackendFactory, ConformanceOptions } from "./fixture.ts";
