import { describeBackendConformance } from "../../src/testing/index.ts";
import { minioFactory, minioSdkReadsFactory } from "../support/s3.ts";

describeBackendConformance("s3 (MinIO)", minioFactory());
describeBackendConformance("s3 (MinIO, reads through the SDK)", minioSdkReadsFactory());
