/** Human-readable sizes as the Python library prints them: "0 Bytes", "435 Bytes", "1.50 KB", "298.00 MB". */
const UNITS = ["KB", "MB", "GB", "TB"] as const;

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} Bytes`;
  let value = bytes;
  let unit: string = "Bytes";
  for (const next of UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(2)} ${unit}`;
}

/** `2025-11-16 11:45`, local time. */
export function formatMinute(time: Date): string {
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${time.getFullYear()}-${two(time.getMonth() + 1)}-${two(time.getDate())} ${two(time.getHours())}:${two(time.getMinutes())}`;
}
