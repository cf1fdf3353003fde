import type { VariantResult } from "../harness.ts";

export interface ScenarioReport {
  /** Markdown lines for BENCHMARKS.md (a table and notes). */
  readonly markdown: string;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** Why the scenario is not available here (a missing server), or undefined. */
  unavailable(): string | undefined;
  /** Runs in the parent: prepares inputs, measures each variant via the harness, and reports. */
  run(options: { readonly repeats: number; readonly scratch: string }): Promise<ScenarioReport>;
  /** Runs in a child process: one variant once. */
  runVariant(variant: string, args: Readonly<Record<string, string>>): Promise<VariantResult>;
}
