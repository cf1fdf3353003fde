/**
 * The oldest Node.js the command runs on (package.json's `engines`). Kept free of imports: main.ts checks it before
 * loading anything an older Node.js could fail on with a less helpful error.
 */
export const OLDEST_NODE = "22.12.0";

/** Why `version` (as in `process.versions.node`) cannot run the command, or undefined when it can. */
export function unsupportedNode(version: string): string | undefined {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const [oldestMajor = 0, oldestMinor = 0] = OLDEST_NODE.split(".").map(Number);
  if (major > oldestMajor || (major === oldestMajor && minor >= oldestMinor)) return undefined;
  return `opencrate needs Node.js ${OLDEST_NODE} or later; this is Node.js ${version}.`;
}
