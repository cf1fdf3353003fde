export { GcsBackend } from "./gcs-backend.ts";
export type { GcsBackendOptions } from "./options.ts";
