/** How the page writes sizes, times and durations. */
const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** A version as `opencrate ls` names its number: "v3", or "dev" for the scratch version (the tag is shown apart). */
export function versionLabel(version: number | "dev"): string {
  return version === "dev" ? "dev" : `v${version}`;
}

/** A folder's size, or "?" when it could not be listed (as `ls` shows it). */
export function folderSize(bytes: number | null): string {
  return bytes === null ? "?" : formatSize(bytes);
}

export function formatTime(iso: string | null): string {
  if (iso === null) return "–";
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return "–";
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${time.getFullYear()}-${two(time.getMonth() + 1)}-${two(time.getDate())} ${two(time.getHours())}:${two(time.getMinutes())}`;
}

export function timeAgo(iso: string | null, now: number = Date.now()): string {
  if (iso === null) return "";
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return "just now";
  const steps: [number, string][] = [[60, "minute"], [3600, "hour"], [86400, "day"], [2592000, "month"], [31536000, "year"]];
  let chosen: [number, string] = steps[0] as [number, string];
  for (const step of steps) if (seconds >= step[0]) chosen = step;
  const count = Math.floor(seconds / chosen[0]);
  return `${count} ${chosen[1]}${count === 1 ? "" : "s"} ago`;
}

/** "–" for a duration that cannot be told (a start or end that is no time). */
export function formatDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) return "–";
  const seconds = Math.max(0, Math.round(milliseconds / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  return `${hours}h ${minutes % 60}m`;
}

/**
 * The run's duration from its record, when it has ended (or how long it has been running); a stale run's ends when
 * it was last seen.
 */
export function runDuration(run: {
  startedAt: string | null;
  createdAt: string | null;
  endedAt: string | null;
  status: string | null;
  lastSeen: string | null;
}): string {
  const start = run.startedAt ?? run.createdAt;
  if (start === null) return "–";
  const end = run.endedAt ?? (run.status === "running" ? new Date().toISOString() : run.status === "stale" ? run.lastSeen : null);
  if (end === null) return "–";
  return formatDuration(new Date(end).getTime() - new Date(start).getTime());
}
