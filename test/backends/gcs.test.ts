import { describeBackendConformance } from "../../src/testing/index.ts";
import { gcsFactory } from "../support/gcs.ts";

// GCS has no append: compose would need preconditions fake-gcs-server does not enforce (README, Known gaps).
describeBackendConformance("gcs (fake-gcs-server)", gcsFactory());
