import assert from "node:assert/strict";
import { it, mock } from "node:test";
import { textHandler } from "../../src/handlers/text.ts";
import { assertNothingStored, describeOverBackends, rejectsWith } from "./support.ts";

describeOverBackends("text handler", textHandler, (h) => {
  it("round-trips UTF-8 text exactly, byte order mark and line ends included", async () => {
    const text = "\uFEFFHello, OpenCrate ✓\r\nzweite Zeile — 日本語\n";
    const storage = await h.save("greeting.txt", text);
    assert.equal(await h.load("greeting.txt"), text);
    assert.deepEqual(Buffer.from(await storage.read()), Buffer.from(text, "utf8"));
  });

  it("round-trips the empty string", async () => {
    await h.save("empty.txt", "");
    assert.equal(await h.load("empty.txt"), "");
  });

  it("rejects anything but a string before writing", async () => {
    for (const value of [42, null, undefined, { a: 1 }, Buffer.from("x")]) {
      await rejectsWith(h.save("bad.txt", value as unknown as string), "INVALID_ARGUMENT", "bad.txt", "string");
    }
    await assertNothingStored((await h.at("bad.txt")).storage);
  });

  it("refuses a string with a lone surrogate, naming its position, and keeps surrogate pairs", async () => {
    for (const [text, part] of [
      ["a\uD800b", "at index 1"],
      ["ok \u{1F600} then \uDE00", "\\uDE00) at index 11"],
      ["\uD83D", "at index 0"],
    ] as const) {
      await rejectsWith(h.save("lone.txt", text), "INVALID_ARGUMENT", "lone.txt", "lone surrogate", part);
    }
    await assertNothingStored((await h.at("lone.txt")).storage);
    await h.save("pair.txt", "smile \u{1F600}");
    assert.equal(await h.load("pair.txt"), "smile \u{1F600}");
  });

  it("reports bytes that are not UTF-8 as corrupt data", async () => {
    await h.plant("latin1.txt", new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
    await rejectsWith(h.load("latin1.txt"), "CORRUPT_DATA", "latin1.txt");
  });

  it("reports text too long for one string as NOT_SUPPORTED with its size, pointing to streamed reads", async () => {
    await h.plant("huge.txt", "abc");
    // V8 refuses strings over buffer.constants.MAX_STRING_LENGTH (about 512 MiB); the decoder stands in for that.
    const tooLong = Object.assign(new Error("Cannot create a string longer than 0x1fffffe8 characters"), { code: "ERR_STRING_TOO_LONG" });
    const decode = mock.method(TextDecoder.prototype, "decode", () => {
      throw tooLong;
    });
    try {
      const error = await rejectsWith(h.load("huge.txt"), "NOT_SUPPORTED", "huge.txt", "3 bytes", "openRead()", "downloadTo()");
      assert.equal(error.cause, tooLong);
    } finally {
      decode.mock.restore();
    }
    assert.equal(await h.load("huge.txt"), "abc");
  });

  it("passes NOT_FOUND through for a missing artifact", async () => {
    await rejectsWith(h.load("missing.txt"), "NOT_FOUND");
  });
});
