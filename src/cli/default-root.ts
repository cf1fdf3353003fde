/**
 * `opencrate log train@latest` right after a run that used the default root: a relative snapshot argument
 * (`<name>@…` or `<name>/v<N>…`) whose name is not an existing local path is looked up in the default root
 * (OPENCRATE_ROOT, else "snapshots"), where setup() put it. `./train@latest` or an existing `train/` keep
 * meaning the local path.
 */
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import { defaultRoot } from "../snapshot/default-root.ts";
import { parseVersionFolderName } from "../snapshot/layout.ts";
import { schemeLength } from "../uri.ts";

export function inDefaultRoot(uri: string): string {
  if (schemeLength(uri) > 0 || isAbsolute(uri) || /^\.\.?(\/|$)/.test(uri)) return uri;
  const [first = "", second = ""] = uri.split("/");
  const name = first.split("@")[0] ?? "";
  const namesSnapshot = first.includes("@") || parseVersionFolderName(second) !== undefined;
  if (!namesSnapshot || name === "" || existsSync(first) || existsSync(name)) return uri;
  return `${defaultRoot().replace(/\/+$/, "")}/${uri}`;
}
