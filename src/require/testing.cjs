// `require("opencrate/testing")`: the conformance suite. The main entry is loaded first so that a Node.js that
// cannot require() ES modules gets its explanation rather than a bare ERR_REQUIRE_ESM.
"use strict";

require("./index.cjs");
module.exports = require("../testing/index.js");
