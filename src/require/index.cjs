// `require("opencrate")`: the session `oc`, with every named export of the ES module on it. Node.js loads the ES
// module synchronously where it can (22.12 and later); elsewhere this explains how to load it with import().
"use strict";

function load() {
  try {
    return require("../index.js");
  } catch (error) {
    if (error === null || typeof error !== "object" || error.code !== "ERR_REQUIRE_ESM") throw error;
    const message =
      `opencrate is an ES module and this Node.js (${process.version}) cannot require() it: ` +
      'use `const { default: oc } = await import("opencrate")` instead (require() of an ES module needs Node.js ' +
      "22.12 or later, without --no-experimental-require-module).";
    throw Object.assign(new Error(message, { cause: error }), { name: "NotSupportedError", code: "NOT_SUPPORTED", path: "opencrate" });
  }
}

const esm = load();
module.exports = Object.assign({}, esm, esm.default);
