/** The CRC32C that checks every GCS upload and whole read: published vectors, the SDK's own class, and chaining. */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { CRC32C } from "@google-cloud/storage";
import { Crc32c, crc32c } from "../../src/backends/crc32c.ts";

const hex = (value: number) => value.toString(16).padStart(8, "0");

describe("crc32c", () => {
  it("matches the published check values (RFC 3720 B.4 and the CRC catalogue)", () => {
    assert.equal(hex(crc32c(Buffer.from("123456789"))), "e3069283");
    assert.equal(hex(crc32c(new Uint8Array(0))), "00000000");
    assert.equal(hex(crc32c(new Uint8Array(32))), "8a9136aa");
    assert.equal(hex(crc32c(new Uint8Array(32).fill(0xff))), "62a8ab43");
    assert.equal(hex(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))), "46dd794e");
    assert.equal(hex(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))), "113fdb5c");
  });

  it("agrees with the SDK's CRC32C for every length around the 16-byte blocks and for large buffers", () => {
    for (const length of [...Array.from({ length: 70 }, (_, i) => i), 4095, 65_537, 3 * 1024 * 1024 + 5]) {
      const bytes = randomBytes(length);
      const sdk = new CRC32C();
      sdk.update(bytes);
      assert.equal(new Crc32c().update(bytes).toBase64(), sdk.toString(), `length ${length}`);
    }
  });

  it("continues from a previous value exactly as over the joined bytes, at any split", () => {
    const bytes = randomBytes(1000);
    const whole = crc32c(bytes);
    for (const split of [0, 1, 15, 16, 17, 500, 999, 1000]) {
      assert.equal(crc32c(bytes.subarray(split), crc32c(bytes.subarray(0, split))), whole, `split at ${split}`);
    }
    const running = new Crc32c();
    for (let offset = 0; offset < bytes.length; offset += 37) running.update(bytes.subarray(offset, offset + 37));
    assert.equal(running.value, whole);
  });

  it("reads a view at its own offset, not the start of the underlying buffer", () => {
    const backing = randomBytes(64);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 7, 40);
    assert.equal(crc32c(view), crc32c(Buffer.from(view)));
  });
});
