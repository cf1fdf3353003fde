/** node:http for the modules that send or serve plain HTTP; they take its types with `import type`. */
import { createRequire } from "node:module";

// Trap: an ESM import of node:http builds its namespace by reading every export, and the lazy getters among them
// (WebSocket, fetch's classes) load Node's whole bundled undici, ~45 ms per process; require() reads none of them.
export const http: typeof import("node:http") = createRequire(import.meta.url)("node:http");
