import { describeBackendConformance } from "../conformance/suite.ts";
import { gcsFactory } from "../support/gcs.ts";

describeBackendConformance("gcs (fake-gcs-server)", gcsFactory());
