/** The root used when none is given: OPENCRATE_ROOT, else "snapshots" (setup and the CLI alike). */
import { InvalidArgumentError } from "../errors.ts";
import { redactPadded } from "../uri.ts";

export const DEFAULT_ROOT = "snapshots";

/**
 * OPENCRATE_ROOT (an empty one counts as unset), else "snapshots". A blank one, or white space around it, is INVALID_ARGUMENT
 * naming the variable, as the same root given directly is (a URI in parseLocation, a local path in LocalLayout).
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.OPENCRATE_ROOT;
  if (fromEnv === undefined || fromEnv === "") return DEFAULT_ROOT;
  if (fromEnv.trim() === "") {
    throw new InvalidArgumentError(
      `OPENCRATE_ROOT ${JSON.stringify(fromEnv)} is blank: set it to a root (a path or URI), or leave it empty or unset for "${DEFAULT_ROOT}".`,
      { path: "OPENCRATE_ROOT" },
    );
  }
  if (fromEnv.trim() !== fromEnv && fromEnv.trim() !== "") {
    throw new InvalidArgumentError(
      `OPENCRATE_ROOT ${JSON.stringify(redactPadded(fromEnv))}: a root must not start or end with white space.`,
      { path: "OPENCRATE_ROOT" },
    );
  }
  return fromEnv;
}
