/** Runs the CLI recording every module it resolves (module-recording-cli.ts), and what a pull never needs. */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { runCli, type CliOptions, type CliResult } from "./helpers.ts";

const RECORDING_MAIN = fileURLToPath(new URL("./module-recording-cli.ts", import.meta.url));

export interface ResolvedModule {
  readonly url: string;
  /** How it was asked for: an ES import or a require. */
  readonly by: "import" | "require";
  /** The module that asked for it (undefined for the entry point). */
  readonly from: string | undefined;
}

/** The viewer, the artifact handlers, the session's logging and the session itself: no command but `ui` needs them. */
export const NOT_FOR_PULL = /\/src\/(ui|handlers|logs)\/|\/src\/snapshot\/snapshot\.ts$|\/node_modules\/(pino|pino-pretty|sharp)\//;

/** Runs the CLI to the end; `file` receives the modules it resolved. */
export async function runCliRecordingModules(
  args: readonly string[],
  file: string,
  options: CliOptions = {},
): Promise<{ result: CliResult; modules: ResolvedModule[] }> {
  const result = await runCli(args, { ...options, main: RECORDING_MAIN, env: { ...options.env, RECORD_MODULES_TO: file } });
  return { result, modules: JSON.parse(await readFile(file, "utf8")) as ResolvedModule[] };
}

/**
 * The ES imports of node:http by opencrate's own modules (each one builds its namespace, which loads Node's bundled
 * undici). Dependencies are not ours to change: the GCS SDK's node-fetch imports it so.
 */
export function ownEsImportsOfNodeHttp(modules: readonly ResolvedModule[]): ResolvedModule[] {
  return modules.filter((entry) => entry.url === "node:http" && entry.by === "import" && isOwnModule(entry.from));
}

/** A module of src/ (the CLI runs from the sources in tests). */
export function isOwnModule(url: string | undefined): boolean {
  return url?.includes("/src/") === true && !url.includes("/node_modules/");
}
