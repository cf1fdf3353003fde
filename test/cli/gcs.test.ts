/** The CLI against fake-gcs-server through gs:// URIs (endpoint from STORAGE_EMULATOR_HOST). */
import { gcsFactory } from "../support/gcs.ts";
import { gcsEnv } from "../support/servers.ts";
import { cloudSmokeSuite } from "./cloud-smoke.ts";

const server = gcsEnv();
cloudSmokeSuite({
  label: "fake-gcs-server",
  factory: gcsFactory(),
  scheme: "gs",
  env: () => ({ STORAGE_EMULATOR_HOST: server?.endpoint, GOOGLE_CLOUD_PROJECT: server?.projectId }),
  resume: true,
});
