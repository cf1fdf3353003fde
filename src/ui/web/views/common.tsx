/** Small pieces every page uses: loading and error states, status badges. */
import type { ComponentChildren } from "preact";
import type { Loaded } from "../use-fetch.ts";

export function Show<T>({ loaded, children }: { loaded: Loaded<T>; children: (data: T) => ComponentChildren }) {
  if (loaded.state === "loading") return <div class="muted loading">Loading…</div>;
  if (loaded.state === "error") return <div class="error-box">{loaded.message}</div>;
  return <>{children(loaded.data)}</>;
}

export function StatusBadge({ status }: { status: string | null }) {
  if (status === null) return <span class="muted">–</span>;
  const title = status === "stale" ? "still running in its record, which has not been refreshed for 5 minutes: the run most likely died (killed outright, or its machine lost)" : undefined;
  return (
    <span class={`badge status-${status.replace(/[^a-z]/g, "")}`} title={title}>
      {status}
    </span>
  );
}

export function TagBadge({ tag }: { tag: string | null }) {
  return tag === null ? null : <span class="badge tag">{tag}</span>;
}
