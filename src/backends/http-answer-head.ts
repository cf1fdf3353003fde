/**
 * The status line and headers of an HTTP/1.x answer, for the two plain-HTTP readers (plain-http-read.ts,
 * kept-alive-get.ts), which take only answers whose body length is known up front.
 */

/** The bytes that end an answer's head. */
export const HEAD_END = Buffer.from("\r\n\r\n");
/** An answer whose head is longer is not taken. */
export const HEAD_MAX_BYTES = 64 * 1024;
/** Enough of an error answer's body to read what went wrong (its code and message). */
export const ERROR_BODY_MAX_BYTES = 64 * 1024;

/** An answer's status and headers (names in lower case; repeated headers joined with ", "). */
export interface AnswerHead {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
}

export interface ParsedHead {
  readonly status: number | undefined;
  readonly headers: ReadonlyMap<string, string>;
  /** Content-Length when it is a plain number. */
  readonly length: number | undefined;
  /** A transfer coding (chunked) frames the body: its length is not known up front. */
  readonly coded: boolean;
  /** HTTP/1.0, or `Connection: close`: the server ends the connection after this answer. */
  readonly closes: boolean;
}

/** Parses `head`, the answer's bytes before the blank line. */
export function parseAnswerHead(head: string): ParsedHead {
  const lines = head.split("\r\n");
  const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? "");
  let length: number | undefined;
  let coded = false;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "content-length") length = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (name === "transfer-encoding") coded = true;
    const earlier = headers.get(name);
    headers.set(name, earlier === undefined ? value : `${earlier}, ${value}`);
  }
  return {
    status: statusLine?.[2] === undefined ? undefined : Number(statusLine[2]),
    headers,
    length: length !== undefined && Number.isSafeInteger(length) ? length : undefined,
    coded,
    closes: statusLine?.[1] === "0" || /(^|,)\s*close\s*(,|$)/i.test(headers.get("connection") ?? ""),
  };
}

/** Whether the body of the answer `head` begins can be read by its length: a Content-Length and no transfer coding. */
export function framedAnswer(head: ParsedHead): head is ParsedHead & { readonly status: number; readonly length: number } {
  return head.status !== undefined && head.length !== undefined && !head.coded;
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}
