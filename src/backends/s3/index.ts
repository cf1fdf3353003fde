/** The S3 backend. Importing this loads no AWS SDK module; the SDK loads on the first request. */
export { S3Backend } from "./s3-backend.ts";
export type { S3BackendOptions } from "./options.ts";
