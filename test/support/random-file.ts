import { randomFillSync } from "node:crypto";
import { open } from "node:fs/promises";

/** A file of `size` random bytes written through one reused buffer, so writing it leaves no garbage to collect. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const handle = await open(path, "w");
  const buffer = Buffer.alloc(1024 * 1024);
  try {
    for (let written = 0; written < size; written += buffer.byteLength) {
      await handle.write(randomFillSync(buffer), 0, Math.min(buffer.byteLength, size - written));
    }
  } finally {
    await handle.close();
  }
}
