/** Inputs shared by the bench scenarios: a pseudo-random file, and the test servers' connection settings. */
import { open } from "node:fs/promises";
import type { StorageBackend } from "../../src/backends/backend.ts";
import { MiB } from "../harness.ts";

export const CHECKPOINT_BYTES = Number(process.env.OPENCRATE_BENCH_CHECKPOINT_MB ?? 1024) * MiB;

/** Writes `size` deterministic pseudo-random bytes (xorshift) to `path`, 8 MiB at a time. */
export async function writePseudoRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    const chunk = Buffer.alloc(8 * MiB);
    let state = 0x9e3779b9;
    for (let written = 0; written < size; written += chunk.length) {
      for (let i = 0; i < chunk.length; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk.writeUInt32LE(state >>> 0, i);
      }
      await handle.write(chunk, 0, Math.min(chunk.length, size - written));
    }
  } finally {
    await handle.close();
  }
}

export function ratioRow(label: string, base: { bytes: number; seconds: number; peakRssBytes: number }, lib: { bytes: number; seconds: number; peakRssBytes: number }): string {
  const rate = (m: { bytes: number; seconds: number }): number => m.bytes / MiB / m.seconds;
  return (
    `| ${label} | ${rate(base).toFixed(0)} MiB/s | ${rate(lib).toFixed(0)} MiB/s | **${(rate(lib) / rate(base)).toFixed(2)}×** | ` +
    `${(base.peakRssBytes / MiB).toFixed(0)} MiB | ${(lib.peakRssBytes / MiB).toFixed(0)} MiB |`
  );
}

export const RATIO_HEADER = [
  "| operation | raw baseline | opencrate | ratio | peak RSS (baseline) | peak RSS (opencrate) |",
  "|---|---|---|---|---|---|",
];

/** Deletes every object of a (prefixed) backend, so a bench run leaves nothing on the server. */
export async function deleteEverything(backend: StorageBackend): Promise<void> {
  await backend.deleteMany(
    (async function* () {
      for await (const info of backend.list("")) yield info.key;
    })(),
  );
}
