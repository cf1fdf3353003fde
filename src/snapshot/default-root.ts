/** The root used when none is given: OPENCRATE_ROOT, else "snapshots" (setup and the CLI alike). */
export const DEFAULT_ROOT = "snapshots";

export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPENCRATE_ROOT || DEFAULT_ROOT;
}
