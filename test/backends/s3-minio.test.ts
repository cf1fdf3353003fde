import { describeBackendConformance } from "../conformance/suite.ts";
import { minioFactory } from "../support/s3.ts";

describeBackendConformance("s3 (MinIO)", minioFactory());
