/** The prefix layer (memory://name/prefix roots) passes the conformance suite, append included, over memory. */
import { randomUUID } from "node:crypto";
import { PrefixedBackend } from "../../src/backends/layers/prefixed.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { describeBackendConformance } from "../conformance/suite.ts";

describeBackendConformance(
  "prefixed memory",
  {
    label: "prefixed memory",
    skip: false,
    make: async () => new PrefixedBackend(new MemoryBackend({ name: `test-${randomUUID()}` }), "runs/team"),
    cleanup: async () => {},
  },
  { constantMemory: false },
);
