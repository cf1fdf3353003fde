/**
 * `pull` with no terminal (CI): besides a line per file, a line every PROGRESS_LINE_MS with the bytes and files so
 * far, so that one large file downloading for minutes does not leave the step silent; none with --quiet, and none
 * once the pull has ended.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { createProgress, PROGRESS_LINE_MS } from "../../src/cli/pull/progress.ts";

/** formatSize's units are powers of 1024. */
const GB = 1024 ** 3;

describe("pull's progress without a terminal", () => {
  let printed: string[];

  beforeEach(() => {
    printed = [];
    mock.timers.enable({ apis: ["setInterval"] });
    mock.method(process.stdout, "write", (chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    mock.restoreAll();
    mock.timers.reset();
  });

  it("prints how far it is every 30 s while a large file downloads, and stops with the pull", async () => {
    const progress = await createProgress("lines");
    progress.start();
    progress.addFile(3 * GB);
    progress.addFile(2_000);
    progress.addBytes(2_000);
    progress.fileDone(() => "pulled    jsons/metrics.json (2.00 KB)");
    progress.addBytes(Math.round(1.2 * GB));
    mock.timers.tick(PROGRESS_LINE_MS - 1);
    assert.deepEqual(printed, ["pulled    jsons/metrics.json (2.00 KB)\n"], "no line before the interval");

    mock.timers.tick(1);
    assert.equal(printed[1], "progress  1.20 GB of 3.00 GB (40%), 1 of 2 files\n");

    progress.addBytes(Math.round(0.6 * GB));
    mock.timers.tick(PROGRESS_LINE_MS);
    assert.equal(printed[2], "progress  1.80 GB of 3.00 GB (60%), 1 of 2 files\n");

    progress.stop(false);
    mock.timers.tick(10 * PROGRESS_LINE_MS);
    assert.equal(printed.length, 3, "nothing once the pull has ended");
  });

  it("prints nothing with --quiet", async () => {
    const progress = await createProgress("quiet");
    progress.start();
    progress.addFile(3 * GB);
    progress.addBytes(GB);
    progress.fileDone(() => "pulled    checkpoints/model.bin (3.00 GB)");
    mock.timers.tick(10 * PROGRESS_LINE_MS);
    progress.stop(true);
    assert.deepEqual(printed, []);
  });
});
