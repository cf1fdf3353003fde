import { describeBackendConformance } from "../../src/testing/index.ts";
import { minioFactory } from "../support/s3.ts";

describeBackendConformance("s3 (MinIO)", minioFactory());
