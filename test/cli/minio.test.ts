/**
 * The CLI against MinIO through s3:// URIs (endpoint and keys from the standard AWS variables). MinIO refuses
 * keys with "." or ".." segments or "//" at PutObject (XMinioInvalidResourceName / XMinioInvalidObjectName), so
 * its crafted keys are the ones it holds; the traversal keys AWS S3 accepts run on moto (moto.test.ts).
 */
import { minioFactory } from "../support/s3.ts";
import { minioEnv } from "../support/servers.ts";
import { cloudSmokeSuite } from "./cloud-smoke.ts";
import { s3CliTarget } from "./s3-target.ts";

cloudSmokeSuite(
  s3CliTarget("MinIO", minioEnv(), minioFactory(), {
    craftedKeys: [
      { path: "a\\b.txt", problem: "the path contains a backslash" },
      { path: "bad\nname.txt", problem: "the path contains a control character" },
      { path: "C:/escaped.txt", problem: "the path starts with a drive letter" },
      { path: ".git/config", problem: 'the path has a ".git" segment: a file there could change a git repository\'s configuration (git refuses such paths too)' },
    ],
    resume: true,
  }),
);
