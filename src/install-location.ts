/**
 * Where this copy of opencrate is installed, told from its own path, so that an install hint names a command that
 * works there. npm puts a global install in `<prefix>/lib/node_modules` and links its command as
 * `<prefix>/bin/opencrate` (on Windows: `<prefix>/node_modules` and `<prefix>/opencrate.cmd`); npx runs a package
 * that no project has from `<npm cache>/_npx/<hash>/node_modules`. Anything else (a project's node_modules, pnpm's
 * store, a source checkout) counts as a local install.
 */
import { existsSync } from "node:fs";
import { basename, dirname, join, parse } from "node:path";
import { fileURLToPath } from "node:url";

export type InstallLocation =
  | { readonly kind: "local" }
  /** `folder`: the global node_modules folder holding opencrate. */
  | { readonly kind: "global"; readonly folder: string }
  | { readonly kind: "npx" };

export interface InstallProbe {
  readonly exists: (path: string) => boolean;
  readonly windows: boolean;
}

const NODE_PROBE: InstallProbe = { exists: existsSync, windows: process.platform === "win32" };

/** The install location of the package holding `file` (a path inside it). */
export function installLocationOf(file: string, probe: InstallProbe = NODE_PROBE): InstallLocation {
  const nodeModules = enclosingNodeModules(file);
  if (nodeModules === undefined) return { kind: "local" };
  const owner = dirname(nodeModules);
  if (basename(dirname(owner)) === "_npx") return { kind: "npx" };
  const command = probe.windows ? join(owner, "opencrate.cmd") : join(dirname(owner), "bin", "opencrate");
  const globalLayout = probe.windows || basename(owner) === "lib";
  return globalLayout && probe.exists(command) ? { kind: "global", folder: nodeModules } : { kind: "local" };
}

let own: InstallLocation | undefined;

/** This running opencrate's install location (worked out once per process). */
export function ownInstallLocation(): InstallLocation {
  own ??= installLocationOf(fileURLToPath(import.meta.url));
  return own;
}

/** The innermost `node_modules` folder above `file`, or undefined. */
function enclosingNodeModules(file: string): string | undefined {
  const { root } = parse(file);
  for (let dir = dirname(file); dir !== root; dir = dirname(dir)) {
    if (basename(dir) === "node_modules") return dir;
  }
  return undefined;
}
