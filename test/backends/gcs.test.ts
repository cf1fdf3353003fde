import { describeBackendConformance } from "../../src/testing/index.ts";
import { gcsFactory } from "../support/gcs.ts";

// GCS has no append: compose would need preconditions fake-gcs-server does not enforce (README, Known gaps).
describeBackendConformance("gcs (fake-gcs-server)", gcsFactory(), {
  knownGaps: {
    "ranges pinned to a revision read that revision and refuse a newer one, past the end too":
      "a read pinned to a generation that was replaced is NOT_FOUND (GCS answers 404 for the old generation), not PRECONDITION_FAILED",
  },
});
