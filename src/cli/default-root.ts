/**
 * `opencrate log train@latest` right after a run that used the default root: a relative snapshot argument
 * (`<name>@…` or `<name>/v<N>…`) whose name is not an existing local path is looked up in the default root
 * (OPENCRATE_ROOT, else "snapshots"), where setup() put it. `./train@latest` or an existing `train/` keep
 * meaning the local path.
 */
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { InvalidArgumentError, isOpenCrateError } from "../errors.ts";
import { defaultRoot } from "../snapshot/default-root.ts";
import { environmentError } from "./errors.ts";
import { parseVersionFolderName } from "../snapshot/layout.ts";
import { schemeLength } from "../uri.ts";

export function inDefaultRoot(uri: string): string {
  if (schemeLength(uri) > 0 || isAbsolute(uri) || /^\.\.?(\/|$)/.test(uri)) return uri;
  const [first = "", second = ""] = uri.split("/");
  const name = first.split("@")[0] ?? "";
  const namesSnapshot = first.includes("@") || parseVersionFolderName(second) !== undefined;
  if (!namesSnapshot || name === "" || existsSync(first) || existsSync(name)) return uri;
  let root: string;
  try {
    root = defaultRoot();
  } catch (error) {
    throw environmentError(error);
  }
  return `${root.replace(/\/+$/, "")}/${uri}`;
}

/**
 * Runs `action` on the root given, else on the default root (OPENCRATE_ROOT, else "snapshots"). With no root given,
 * what is wrong with the root is the environment's doing: the error names OPENCRATE_ROOT (when it is set) and the
 * CLI exits 1, not 2 (a usage error).
 */
export async function onRoot<T>(given: string | undefined, action: (root: string) => Promise<T>): Promise<T> {
  if (given !== undefined) return action(given);
  try {
    return await action(defaultRoot());
  } catch (error) {
    throw environmentError(namingTheVariable(error));
  }
}

function namingTheVariable(error: unknown): unknown {
  const fromEnv = process.env.OPENCRATE_ROOT;
  if (!isOpenCrateError(error, "INVALID_ARGUMENT") || fromEnv === undefined || fromEnv === "") return error;
  // Already named, or about another variable (its name is the error's path).
  if (error.message.includes("OPENCRATE_ROOT") || (error.path !== undefined && /^[A-Z][A-Z0-9_]*$/.test(error.path))) return error;
  return new InvalidArgumentError(`OPENCRATE_ROOT: ${error.message}`, { ...(error.path === undefined ? {} : { path: error.path }), cause: error });
}
