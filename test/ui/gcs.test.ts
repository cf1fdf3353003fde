/** The viewer over a gs:// root on fake-gcs-server holding the guide's snapshots (API and Chromium). */
import { viewerSuite } from "./viewer-suite.ts";
import { gcsTarget } from "./targets.ts";

viewerSuite(gcsTarget());
