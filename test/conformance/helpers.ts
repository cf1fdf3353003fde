/** The conformance suite's assertions, for the other test files (the suite itself lives in src/testing). */
export * from "../../src/testing/helpers.ts";
