/** The viewer over an s3:// root on MinIO holding the guide's snapshots (API and Chromium). */
import { viewerSuite } from "./viewer-suite.ts";
import { minioTarget } from "./targets.ts";

viewerSuite(minioTarget());
