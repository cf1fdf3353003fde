/**
 * This user's home folder, where the AWS and Google tools keep their config and credentials files. A process may
 * have none: HOME unset and a uid with no entry in the system's user database (a container run with an arbitrary
 * uid under `env -i`, some cron and CI launchers), where Node's homedir() throws. Then there are no such files.
 */
import { homedir } from "node:os";

/** The home folder, or undefined when this process has none. */
export function homeFolder(): string | undefined {
  try {
    return homedir();
  } catch (error) {
    if (isNoHomeError(error)) return undefined;
    throw error;
  }
}

/** Node's failure to find a home folder (uv_os_homedir), in `error` or its causes. */
export function isNoHomeError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const shape = current as { syscall?: unknown; info?: { syscall?: unknown }; cause?: unknown };
    if (shape.syscall === "uv_os_homedir" || shape.info?.syscall === "uv_os_homedir") return true;
    current = shape.cause;
  }
  return false;
}

/** "HOME is not set and uid 12345 has no home folder": why there is none, for messages. */
export function noHomeReason(): string {
  const uid = process.getuid?.();
  return `HOME is not set and ${uid === undefined ? "this user" : `uid ${uid}`} has no home folder in the system's user database`;
}
