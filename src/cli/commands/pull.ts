/** `opencrate pull <snapshot-uri> [dest]`: downloads a snapshot's files, resumable, never outside dest. */
import { mkdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { formatSize } from "../../io/size.ts";
import { isHiddenPath, listFolder } from "../files.ts";
import { EXIT_FAILURE, oneLine, writeError } from "../errors.ts";
import { printLines } from "../format.ts";
import { positiveInteger } from "../options.ts";
import { mapWithConcurrency } from "../pool.ts";
import { describeOutcome, downloadFile, type DownloadOutcome, type DownloadTask } from "../pull/download.ts";
import { FolderMaker, RefusedPathError } from "../pull/folders.ts";
import { createProgress } from "../pull/progress.ts";
import { checkPullPath, pathInside } from "../pull/safe-path.ts";
import { openSnapshotTarget } from "../targets.ts";

interface PullOptions {
  readonly concurrency: number;
  readonly quiet?: boolean;
}

type Result = DownloadOutcome | { readonly kind: "refused" } | { readonly kind: "failed" } | { readonly kind: "unfinished" };

const DEFAULT_CONCURRENCY = 8;

export function registerPull(program: Command): void {
  program
    .command("pull")
    .description("download every file of a snapshot into a local folder (resumes an interrupted pull)")
    .argument("<snapshot-uri>", "<root>/<name>/v3[:tag], or <root>/<name>@latest|@<N>|@<tag>")
    .argument("[dest]", "the local folder to fill (default: ./<name>/<version folder>)")
    .option("-c, --concurrency <n>", "files downloaded at once", positiveInteger, DEFAULT_CONCURRENCY)
    .option("-q, --quiet", "print nothing but errors")
    .addHelpText(
      "after",
      `
Files already in dest with the same size (and checksum, when the store gives one) are skipped, and partly
downloaded files are continued, so running the same pull again finishes an interrupted one. Object keys that
would land outside dest (.., absolute paths, backslashes, names invalid on disk) are refused and reported.

Examples:
  $ opencrate pull s3://team/snapshots/train@latest
  $ opencrate pull s3://team/snapshots/train/v3:baseline ./baseline --concurrency 16
  $ opencrate pull gs://team/snapshots/train@baseline /data/train --quiet`,
    )
    .action(async (uri: string, destArgument: string | undefined, options: PullOptions) => {
      const snapshot = await openSnapshotTarget(uri);
      // "v3:tag" is not a valid folder name on Windows.
      const folderName = process.platform === "win32" ? snapshot.folder.replaceAll(":", "_") : snapshot.folder;
      const dest = destArgument ?? join(".", snapshot.name, folderName);
      await mkdir(dest, { recursive: true });
      const destRoot = await realpath(dest);

      const mode = options.quiet === true ? "quiet" : process.stderr.isTTY === true ? "bar" : "lines";
      const progress = await createProgress(mode);
      const listed = await listFolder(snapshot.backend, snapshot.prefix);
      const tasks: DownloadTask[] = [];
      let refused = 0;
      let totalBytes = 0;
      for (const file of listed) {
        const check = checkPullPath(file.path);
        if (!check.ok) {
          refused += 1;
          progress.problem(`refused ${JSON.stringify(file.key)}: ${check.problem}; nothing was written for it.`);
          continue;
        }
        if (isHiddenPath(file.path)) continue;
        if (pathInside(destRoot, check.segments) === undefined) {
          refused += 1;
          progress.problem(`refused ${JSON.stringify(file.key)}: it would land outside ${dest}.`);
          continue;
        }
        tasks.push({ key: file.key, path: file.path, segments: check.segments });
        totalBytes += file.size;
      }

      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const folders = new FolderMaker(destRoot);
      progress.start(totalBytes, tasks.length);
      let results: Result[];
      try {
        results = await mapWithConcurrency(tasks, options.concurrency, async (task): Promise<Result> => {
          if (stop.signal.aborted) return { kind: "unfinished" };
          try {
            const outcome = await downloadFile(task, {
              backend: snapshot.backend,
              folders,
              signal: stop.signal,
              onBytes: (count) => progress.addBytes(count),
            });
            progress.fileDone(describeOutcome(task.path, outcome));
            return outcome;
          } catch (error) {
            if (stop.signal.aborted) return { kind: "unfinished" };
            if (error instanceof RefusedPathError) {
              progress.problem(`refused ${JSON.stringify(task.key)}: ${oneLine(error)}; nothing was written for it.`);
              return { kind: "refused" };
            }
            progress.problem(`failed ${task.path}: ${oneLine(error)}`);
            return { kind: "failed" };
          }
        });
      } finally {
        progress.stop();
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
      }

      const count = (kind: Result["kind"]): number => results.filter((result) => result.kind === kind).length;
      refused += count("refused");
      const failed = count("failed");
      const pulled = results.filter((result): result is DownloadOutcome => result.kind === "downloaded" || result.kind === "complete");
      const bytes = pulled.reduce((sum, result) => sum + result.size, 0);
      const summary =
        `${pulled.length} of ${tasks.length + refused} files (${formatSize(bytes)}) in ${dest}: ` +
        `${count("downloaded")} downloaded, ${count("complete")} already complete` +
        (refused > 0 ? `, ${refused} refused` : "") +
        (failed > 0 ? `, ${failed} failed` : "") +
        (count("unfinished") > 0 ? `, ${count("unfinished")} unfinished` : "");
      if (stop.signal.aborted) {
        writeError(`interrupted: ${summary}. Run the same pull again to finish it.`);
        process.exitCode = EXIT_FAILURE;
      } else if (refused > 0 || failed > 0) {
        writeError(`pull incomplete: ${summary}.`);
        process.exitCode = EXIT_FAILURE;
      } else if (options.quiet !== true) {
        printLines(`Pulled ${summary}.`);
      }
    });
}
