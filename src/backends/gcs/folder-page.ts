/**
 * One-level listings ("/"-delimited pages) with a page bound that holds on every store. GCS counts objects and
 * prefixes together against maxResults; fake-gcs-server counts only objects and returns every prefix. So a page
 * is cut here to `pageSize` entries, and the page token is this backend's own: the name to resume from, sent
 * as startOffset (inclusive). Throws SDK errors as they are.
 */
import type { Bucket, File } from "@google-cloud/storage";
import { InvalidArgumentError } from "../../errors.ts";
import { expectResource } from "./json-answer.ts";

export interface FolderPageRequest {
  readonly bucket: Bucket;
  /** The full object-name prefix of the folder: "" or ending in "/". */
  readonly folder: string;
  readonly pageSize: number;
  readonly pageToken?: string | undefined;
  /** The folder as a gs:// URI, for messages. */
  readonly where: string;
}

export interface FolderPage {
  readonly objects: readonly File[];
  /** Full names of the sub-folders, each ending in "/". */
  readonly prefixes: readonly string[];
  readonly nextPageToken?: string;
}

/** Where the next page starts: at `from`, leaving out the object named exactly `from` when `exclusive`. */
interface Resume {
  readonly from: string;
  readonly exclusive: boolean;
}

export async function listFolderPage(request: FolderPageRequest): Promise<FolderPage> {
  const resume = request.pageToken === undefined ? undefined : decodeToken(request.pageToken, request.where);
  let serverToken: string | undefined;
  for (;;) {
    const [files, next, response] = await request.bucket.getFiles({
      prefix: request.folder,
      delimiter: "/",
      autoPaginate: false,
      // One more than the page, to know whether another page follows, and one more again for the object a
      // resume point leaves out.
      maxResults: request.pageSize + 1 + (resume?.exclusive === true ? 1 : 0),
      ...(resume === undefined ? {} : { startOffset: resume.from }),
      ...(serverToken === undefined ? {} : { pageToken: serverToken }),
    });
    expectResource(response, "storage#objects");
    serverToken = next?.pageToken === "" ? undefined : next?.pageToken;
    const entries: Array<{ readonly name: string; readonly file?: File }> = [];
    for (const file of files) {
      // A zero-byte placeholder named like the folder itself (consoles make them) is not a key (isFolderMarker).
      if ((file.name === request.folder && Number(file.metadata.size ?? 0) === 0) || (resume?.exclusive === true && file.name === resume.from)) continue;
      entries.push({ name: file.name, file });
    }
    const prefixes = (response as { prefixes?: unknown } | undefined)?.prefixes;
    if (Array.isArray(prefixes)) for (const name of prefixes) if (typeof name === "string") entries.push({ name });
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.name, "utf8"), Buffer.from(b.name, "utf8")));
    const page = entries.slice(0, request.pageSize);
    const more = entries.length > request.pageSize || serverToken !== undefined;
    // Only skipped entries on a page the server says is not the last: ask for the server's next page.
    if (page.length === 0 && serverToken !== undefined) continue;
    const last = page.at(-1);
    return {
      objects: page.flatMap((entry) => (entry.file === undefined ? [] : [entry.file])),
      prefixes: page.flatMap((entry) => (entry.file === undefined ? [entry.name] : [])),
      ...(more && last !== undefined ? { nextPageToken: encodeToken(after(last)) } : {}),
    };
  }
}

/** Resumes after an object, or after everything inside a sub-folder ("a/" → "a0": "/" + 1 is "0"). */
function after(entry: { readonly name: string; readonly file?: File }): Resume {
  if (entry.file !== undefined) return { from: entry.name, exclusive: true };
  return { from: `${entry.name.slice(0, -1)}0`, exclusive: false };
}

function encodeToken(resume: Resume): string {
  return Buffer.from(JSON.stringify([resume.from, resume.exclusive]), "utf8").toString("base64url");
}

function decodeToken(token: string, where: string): Resume {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(value) && typeof value[0] === "string" && typeof value[1] === "boolean") {
      return { from: value[0], exclusive: value[1] };
    }
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(`Invalid page token for ${where}: pass back a nextPageToken from a previous page.`, {
    path: where,
  });
}
