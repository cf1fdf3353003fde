/**
 * The cloud SDKs and sharp are optional peer dependencies, loaded on first use. One message for all of them when
 * that first use finds the package missing (or present but unable to load, as sharp without a binary for this
 * platform), with the install line to run.
 */
import { NotSupportedError } from "./errors.ts";
import { type InstallLocation, ownInstallLocation } from "./install-location.ts";

/** `needs` says who needs it ("s3:// locations"); `path` is what the failed call was about, when there is one. */
export function optionalPackageError(
  pkg: string,
  needs: string,
  cause: unknown,
  path?: string,
  location: InstallLocation = ownInstallLocation(),
): NotSupportedError {
  const reason = isMissing(cause, pkg)
    ? "which is not installed"
    : `which failed to load (${cause instanceof Error ? cause.message : String(cause)})`;
  const where = path === undefined ? "" : ` (${path})`;
  return new NotSupportedError(`${needs}${where} need the optional package ${pkg}, ${reason}: ${installHint(pkg, location)}.`, {
    path: path ?? pkg,
    cause,
  });
}

/** The install line that makes `pkg` loadable by this opencrate: next to it, wherever it is installed. */
function installHint(pkg: string, location: InstallLocation): string {
  switch (location.kind) {
    case "global":
      return `run \`npm install -g ${pkg}\` (this opencrate is installed globally, in ${location.folder})`;
    case "npx":
      return (
        `this opencrate runs from npx's cache, where nothing can be added: run \`npm install opencrate ${pkg}\` in your ` +
        `project and \`npx opencrate\` there (or, for one command, \`npx -p opencrate -p ${pkg} opencrate …\`)`
      );
    case "local":
      return `run \`npm install ${pkg}\``;
  }
}

/**
 * `load` run once per process on first use and shared by every caller; a failed load is forgotten, so the next
 * call tries again (after `npm install`, say), and fails as {@link optionalPackageError}.
 */
export function lazyOptionalPackage<M>(pkg: string, needs: string, load: () => Promise<M>): (path?: string) => Promise<M> {
  let loading: Promise<M> | undefined;
  return (path) => {
    loading ??= load();
    return loading.catch((error: unknown) => {
      loading = undefined;
      throw optionalPackageError(pkg, needs, error, path);
    });
  };
}

function isMissing(cause: unknown, pkg: string): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  return (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") && cause instanceof Error && cause.message.includes(pkg);
}
