import { describeBackendConformance } from "../../src/testing/index.ts";
import { motoFactory } from "../support/s3.ts";

// moto checks If-None-Match / If-Match and then writes as two separate steps with no lock between them, and its
// server is threaded, so two racing conditional writers can both win there. The race cases run on MinIO only.
describeBackendConformance("s3 (moto)", motoFactory(), { races: false });
