// Types of `require("opencrate")`: the session with every named export on it.
import type * as opencrate from "../index.js" with { "resolution-mode": "import" };

declare const session: typeof opencrate.default & typeof opencrate;
export = session;
