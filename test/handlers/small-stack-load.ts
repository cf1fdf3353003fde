/**
 * Worker entry for checkpoint.test.ts: plants a safetensors file whose stored layout nests `levels` objects on a
 * memory backend, loads it, and posts either the depth of the loaded tree or the error's code, class and message.
 * Started with a small stackSizeMb, it shows whether the load needs more call stack than a worker may have.
 */
import { parentPort, workerData } from "node:worker_threads";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { isOpenCrateError } from "../../src/errors.ts";
import { BackendArtifactStorage } from "../../src/handlers/backend-storage.ts";
import { checkpointHandler } from "../../src/handlers/checkpoint/index.ts";

export type SmallStackResult = { readonly depth: number; readonly leaf: unknown } | { readonly error: string; readonly code?: string; readonly message: string };

const { levels } = workerData as { levels: number };
const layout = '["tree",[["a",'.repeat(levels) + '["value",1]' + "]]]".repeat(levels);
const header = Buffer.from(JSON.stringify({ __metadata__: { "opencrate.layout": layout } }));
const file = Buffer.alloc(8 + header.byteLength);
file.writeBigUInt64LE(BigInt(header.byteLength));
header.copy(file, 8);

const backend = new MemoryBackend();
const storage = new BackendArtifactStorage({ backend, key: "run/v0/checkpoints/deep.safetensors" });
let result: SmallStackResult;
try {
  await storage.write(file);
  let node: unknown = await checkpointHandler.load(storage, undefined, { name: "deep.safetensors", extension: ".safetensors" });
  let depth = 0;
  while (typeof node === "object" && node !== null) {
    node = (node as { a?: unknown }).a;
    depth++;
  }
  result = { depth, leaf: node };
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  result = isOpenCrateError(error) ? { error: error.constructor.name, code: error.code, message } : { error: error instanceof Error ? error.constructor.name : typeof error, message };
}
parentPort?.postMessage(result);
