/** Every bench scenario, in report order. */
import { allocation } from "./allocation.ts";
import { allocationRevision } from "./allocation-revision.ts";
import { anchors } from "./anchors.ts";
import { anchorsGcs } from "./anchors-gcs.ts";
import { coldStart } from "./cold-start.ts";
import { exitFlush } from "./exit-flush.ts";
import { gcsCheckpoint } from "./gcs-checkpoint.ts";
import { localCheckpoint } from "./local-checkpoint.ts";
import { logging } from "./logging.ts";
import { pull } from "./pull.ts";
import { s3Checkpoint } from "./s3-checkpoint.ts";
import type { Scenario } from "./types.ts";
import { ui } from "./ui.ts";

export const scenarios: readonly Scenario[] = [localCheckpoint, s3Checkpoint, gcsCheckpoint, pull, anchors, anchorsGcs, allocation, allocationRevision, logging, exitFlush, coldStart, ui];
