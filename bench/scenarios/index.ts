/** Every bench scenario, in report order. */
import { localCheckpoint } from "./local-checkpoint.ts";
import type { Scenario } from "./types.ts";

export const scenarios: readonly Scenario[] = [localCheckpoint];
