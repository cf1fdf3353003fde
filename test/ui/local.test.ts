/** The viewer over a local root holding the guide's snapshots (API and Chromium). */
import { viewerSuite } from "./viewer-suite.ts";
import { localTarget } from "./targets.ts";

viewerSuite(localTarget(), { screenshots: true });
