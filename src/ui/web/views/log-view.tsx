/**
 * A log with its levels in colour, a level filter, a search box and a live tail. How lines group into entries is
 * log-entries.ts.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { TailChunk } from "../../api-types.ts";
import { getJson, tailUrl } from "../api.ts";
import { appendEntries, LEVELS, type Level, type LogEntry } from "../log-entries.ts";

const POLL_MS = 1000;
/** Entries drawn at most; the newest are kept. */
const MAX_SHOWN = 5000;

export function LogView({ name, folder, path, live: liveAtStart }: { name: string; folder: string; path: string; live: boolean }) {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  // The last line when no newline follows it yet: drawn after the entries, replaced at each poll.
  const [partial, setPartial] = useState("");
  const [skipped, setSkipped] = useState(0);
  const [error, setError] = useState<string | undefined>();
  const [hidden, setHidden] = useState<ReadonlySet<Level>>(new Set());
  const [query, setQuery] = useState("");
  const [live, setLive] = useState(liveAtStart);
  const offset = useRef(0);
  const source = useRef("");
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const key = `${name}/${folder}/${path}`;
    if (source.current !== key) {
      source.current = key;
      offset.current = 0;
      setEntries([]);
      setPartial("");
      setSkipped(0);
      setError(undefined);
    }
    const poll = async (first: boolean): Promise<void> => {
      try {
        const chunk = await getJson<TailChunk>(tailUrl(name, folder, path, offset.current));
        if (stopped) return;
        if (first && chunk.skipped > 0) setSkipped(chunk.skipped);
        setEntries((current) => appendEntries(chunk.restarted ? [] : current, chunk.text));
        setPartial(chunk.partial);
        offset.current = chunk.next;
        if (!first && chunk.text !== "") bottom.current?.scrollIntoView({ block: "end" });
      } catch (caught) {
        if (!stopped) setError(caught instanceof Error ? caught.message : String(caught));
      }
      if (!stopped && live) timer = setTimeout(() => void poll(false), POLL_MS);
    };
    void poll(offset.current === 0);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [name, folder, path, live]);

  const all = useMemo(() => (partial === "" ? entries : appendEntries(entries, partial)), [entries, partial]);
  const counts = useMemo(() => {
    const byLevel = new Map<Level, number>();
    for (const entry of all) if (entry.level !== null) byLevel.set(entry.level, (byLevel.get(entry.level) ?? 0) + 1);
    return byLevel;
  }, [all]);
  const needle = query.trim().toLowerCase();
  const shown = all.filter(
    (entry) => (entry.level === null || !hidden.has(entry.level)) && (needle === "" || entry.lines.some((line) => line.toLowerCase().includes(needle))),
  );
  const toggle = (level: Level): void =>
    setHidden((current) => {
      const next = new Set(current);
      if (next.has(level)) next.delete(level);
      else next.add(level);
      return next;
    });

  return (
    <div class="log-view">
      <div class="toolbar">
        <div class="levels" role="group" aria-label="levels">
          {LEVELS.map((level) => (
            <button
              type="button"
              key={level}
              class={`chip level-${level.toLowerCase()}${hidden.has(level) ? " off" : ""}`}
              aria-pressed={!hidden.has(level)}
              data-level={level}
              onClick={() => toggle(level)}
            >
              {level.toLowerCase()} <span class="count">{counts.get(level) ?? 0}</span>
            </button>
          ))}
        </div>
        <input class="search" type="search" placeholder="Search the log" value={query} onInput={(event) => setQuery(event.currentTarget.value)} />
        <label class="live" title="poll for new lines every second">
          <input type="checkbox" checked={live} onChange={(event) => setLive(event.currentTarget.checked)} /> Live
        </label>
      </div>
      {error !== undefined && <div class="error-box">{error}</div>}
      {skipped > 0 && <div class="muted note">The first {skipped.toLocaleString()} bytes are not shown; download the log to read them.</div>}
      <div class="log-lines" data-testid="log-lines">
        {shown.length > MAX_SHOWN && <div class="muted note">Showing the last {MAX_SHOWN.toLocaleString()} of {shown.length.toLocaleString()} entries.</div>}
        {shown.slice(-MAX_SHOWN).map((entry, index) => (
          <div class={`log-entry level-${entry.level?.toLowerCase() ?? "none"}`} key={index} data-level={entry.level ?? ""}>
            <span class="time">{entry.time}</span>
            {entry.level !== null && <span class="level">{entry.level}</span>}
            <span class="message">{entry.lines.join("\n")}</span>
          </div>
        ))}
        {shown.length === 0 && all.length > 0 && <div class="muted note">No line matches.</div>}
        <div ref={bottom} />
      </div>
    </div>
  );
}
