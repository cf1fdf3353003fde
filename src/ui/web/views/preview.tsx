/** One file: its preview by type, its backups, and a download link. */
import { useState } from "preact/hooks";
import type { CsvPreview, FileRow, SafetensorsPreview, TextPreview } from "../../api-types.ts";
import { previewUrl, rawUrl } from "../api.ts";
import { baseName } from "../files.ts";
import { formatSize, formatTime } from "../format.ts";
import { previewKind } from "../kinds.ts";
import { href } from "../router.ts";
import { useJson } from "../use-fetch.ts";
import { Show } from "./common.tsx";
import { CsvView } from "./csv-view.tsx";
import { JsonTree } from "./json-tree.tsx";
import { LogView } from "./log-view.tsx";
import { TensorsView } from "./tensors.tsx";
import { printable } from "../../../printable.ts";

interface FileProps {
  readonly name: string;
  readonly folder: string;
  readonly file: FileRow;
  readonly backups: readonly FileRow[];
  readonly live: boolean;
}

export function FilePreview({ name, folder, file, backups, live }: FileProps) {
  return (
    <div class="file-preview" data-testid="file-preview">
      <div class="file-head">
        <h2>{printable(baseName(file.path))}</h2>
        <span class="muted">
          {formatSize(file.size)} · {formatTime(file.lastModified)}
        </span>
        <a class="button small" href={rawUrl(name, folder, file.path, true)} data-testid="download">
          Download
        </a>
      </div>
      <div class="preview-body">
        <Body name={name} folder={folder} path={file.path} live={live} />
      </div>
      {backups.length > 0 && (
        <div class="backups" data-testid="backups">
          <h3>Backups</h3>
          <ul>
            {backups.map((backup) => (
              <li key={backup.path}>
                <a href={href.version(name, folder, backup.path)}>{printable(baseName(backup.path))}</a>
                <span class="muted"> {formatSize(backup.size)} · {formatTime(backup.lastModified)}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}

function Body({ name, folder, path, live }: { name: string; folder: string; path: string; live: boolean }) {
  const src = rawUrl(name, folder, path);
  const kind = previewKind(path);
  switch (kind) {
    case "image":
    case "audio":
    case "video":
      return <Media kind={kind} src={src} alt={printable(baseName(path))} />;
    case "json":
      return <JsonPreview name={name} folder={folder} path={path} />;
    case "yaml":
      return <YamlPreview name={name} folder={folder} path={path} />;
    case "csv":
      return <CsvPreviewView name={name} folder={folder} path={path} />;
    case "safetensors":
      return <SafetensorsPreviewView name={name} folder={folder} path={path} />;
    case "log":
      return <LogView name={name} folder={folder} path={path} live={live} />;
    case "text":
      return <TextPreviewView name={name} folder={folder} path={path} />;
    case "binary":
      return <div class="empty">No preview for this type of file; download it to open it.</div>;
  }
}

const MEDIA_NAMES = { image: "an image", audio: "audio", video: "video" } as const;

/** An image or a player; when the browser cannot read the file, a line saying so instead of a broken icon or an empty player. */
function Media({ kind, src, alt }: { kind: keyof typeof MEDIA_NAMES; src: string; alt: string }) {
  const [failed, setFailed] = useState(false);
  if (failed) {
    return (
      <div class="empty" data-testid="media-failed">
        The browser cannot show this file as {MEDIA_NAMES[kind]}: it may be damaged, or in a format the browser does not read. Download it to
        open it elsewhere.
      </div>
    );
  }
  const onError = (): void => setFailed(true);
  if (kind === "image") return <img class="media" src={src} alt={alt} data-testid="image" onError={onError} />;
  if (kind === "audio") return <audio class="media" controls preload="metadata" src={src} data-testid="audio" onError={onError} />;
  return <video class="media" controls preload="metadata" src={src} data-testid="video" onError={onError} />;
}

/** What to know about a text preview's bytes that the text does not show. */
function TextNotes({ preview }: { preview: TextPreview }) {
  if (preview.notUtf8) {
    return (
      <div class="muted note" data-testid="text-note">
        This file is not UTF-8 text (another encoding such as Latin-1 or UTF-16, or not text): bytes that could not be read are shown as �.
      </div>
    );
  }
  if (preview.text.includes("\0")) {
    return (
      <div class="muted note" data-testid="text-note">
        This file holds NUL characters: it may be UTF-16 text, or not text.
      </div>
    );
  }
  return null;
}

interface PathProps {
  readonly name: string;
  readonly folder: string;
  readonly path: string;
}

function Truncated({ preview }: { preview: { truncated: boolean; size: number } }) {
  return preview.truncated ? <div class="muted note" data-testid="truncated">Only the start of this {formatSize(preview.size)} file is shown.</div> : null;
}

function JsonPreview({ name, folder, path }: PathProps) {
  const text = useJson<TextPreview>(previewUrl("text", name, folder, path));
  return (
    <Show loaded={text}>
      {(preview) => {
        const value = preview.truncated ? undefined : parseJson(preview.text);
        if (value !== undefined) return <JsonTree value={value.parsed} />;
        return (
          <>
            <TextNotes preview={preview} />
            <pre class="text">{preview.text}</pre>
            <Truncated preview={preview} />
          </>
        );
      }}
    </Show>
  );
}

function parseJson(text: string): { parsed: unknown } | undefined {
  try {
    return { parsed: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

function YamlPreview({ name, folder, path }: PathProps) {
  const yaml = useJson<{ value: unknown; truncated: boolean; size: number }>(previewUrl("yaml", name, folder, path));
  return (
    <Show loaded={yaml}>
      {(preview) => (preview.truncated ? <TextPreviewView name={name} folder={folder} path={path} /> : <JsonTree value={preview.value} />)}
    </Show>
  );
}

function CsvPreviewView({ name, folder, path }: PathProps) {
  const csv = useJson<CsvPreview>(previewUrl("csv", name, folder, path));
  return <Show loaded={csv}>{(preview) => <CsvView preview={preview} />}</Show>;
}

function SafetensorsPreviewView({ name, folder, path }: PathProps) {
  const header = useJson<SafetensorsPreview>(previewUrl("safetensors", name, folder, path));
  return <Show loaded={header}>{(preview) => <TensorsView preview={preview} />}</Show>;
}

function TextPreviewView({ name, folder, path }: PathProps) {
  const text = useJson<TextPreview>(previewUrl("text", name, folder, path));
  return (
    <Show loaded={text}>
      {(preview) => (
        <>
          <TextNotes preview={preview} />
          <pre class="text" data-testid="text">
            {preview.text}
          </pre>
          <Truncated preview={preview} />
        </>
      )}
    </Show>
  );
}
