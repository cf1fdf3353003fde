// Types of `require("opencrate/testing")`.
import type * as testing from "../testing/index.js" with { "resolution-mode": "import" };

declare const entry: typeof testing;
export = entry;
