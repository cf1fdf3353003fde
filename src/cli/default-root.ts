/**
 * The one rule for a relative argument that may name a snapshot of the default root (OPENCRATE_ROOT, else
 * "snapshots"), where setup() puts it: `train@latest`, `train/v3:baseline/…`, and for `ls`, `tree` and `ui` a bare
 * `train`. Two folders can be meant: `./train` and `<default root>/train`, and the one that holds versions is read.
 * A local folder that holds none (a code folder `model/`), only copies a pull placed (pull's default destination
 * `./<name>/<version>`, marked by `.opencrate/pulled.json`), or that cannot be read, gives way to the default root's
 * versions, saying so on stderr (a code folder passed over for `model@latest` goes unsaid, and so do pulled copies
 * passed over by `pull`, which refreshes them). For a bare name, a local folder holding snapshots (a local root) is
 * what was meant and the default root is not asked. Both holding versions of their own is refused, naming both,
 * unless they are one folder. Neither: the default root's error says what it holds (a bare name that is a local
 * folder stays that folder). A default root that cannot be read, or does not answer in time where the local folder
 * would be read anyway, leaves the local folder read, saying so, unless it holds only pulled copies: then the
 * root's error is the answer. `./train@latest`, an absolute path or a URI always mean what they say.
 */
import { isAbsolute, join } from "node:path";
import { InvalidArgumentError, isOpenCrateError, NotFoundError, TransientError } from "../errors.ts";
import { backendFor, backendFromUri } from "../backends/registry.ts";
import { defaultRoot } from "../snapshot/default-root.ts";
import { parseVersionFolderName } from "../snapshot/layout.ts";
import { namesNearHint } from "../snapshot/names-near.ts";
import { isSnapshotName } from "../snapshot/names.ts";
import { VersionStore } from "../snapshot/versions.ts";
import { parseLocation, redact, schemeLength } from "../uri.ts";
import { environmentError, oneLine, writeError } from "./errors.ts";
import { localHolding, statQuietly, type LocalHolding } from "./local-holding.ts";
import { withTypedEscapes } from "./typed-escapes.ts";

export interface ArgumentKind {
  /** A bare `<name>` may name a snapshot too (`ls`, `tree`, `ui`); otherwise only `<name>@…` and `<name>/v<N>…` do. */
  readonly bareName?: boolean;
  /** `pull`: passing over the copies a pull placed at `./<name>` is the refresh meant, not worth a line. */
  readonly refreshesPulled?: boolean;
}

/** The default root, and whether it holds versions of the name; `same` when it is the folder `./<name>` itself. */
interface DefaultHolding {
  readonly root: string;
  readonly holds: boolean;
  readonly same: boolean;
}

/** How long the default root is waited for where, without its answer, the local folder is read (a hung proxy). */
const ROOT_WAIT_MS = 2_000;

/** The argument as it is to be read: as given, or under the default root (see the rule above). */
export async function inDefaultRoot(given: string, kind: ArgumentKind = {}): Promise<string> {
  const uri = withTypedEscapes(given);
  const candidate = snapshotCandidate(uri, kind);
  if (candidate === undefined) return uri;
  const { name, bare } = candidate;
  const local = await localHolding(name, { rootToo: bare });
  if (local?.kind === "root") return uri;
  // `./<name>` missing, or no snapshot: only the default root can hold it (a bare name still needs its answer).
  if (!bare && (local === undefined || local.kind === "none")) return under(await onRoot(undefined, async (root) => root), uri);
  let other: DefaultHolding;
  try {
    other = await onRoot(undefined, (root) => defaultRootHolding(root, name, local !== undefined && local.kind !== "pulled"));
  } catch (error) {
    return withoutDefaultRoot(uri, name, local, error);
  }
  return weigh(uri, name, local, other, kind);
}

/** The snapshot name a relative argument may mean in the default root, if any. */
function snapshotCandidate(uri: string, kind: ArgumentKind): { name: string; bare: boolean } | undefined {
  if (schemeLength(uri) > 0 || isAbsolute(uri) || /^\.\.?(\/|$)/.test(uri)) return undefined;
  // White space at an end is refused as a root's (" snapshots" is a mistyped root), though a name may hold it.
  if (uri.trim() !== uri) return undefined;
  const [first = "", second = ""] = uri.split("/");
  const bare = kind.bareName === true && uri.replace(/\/+$/, "") === first && !first.includes("@");
  // `<name>@<selector>`: the selector holds no "@", the name may (snapshot-uri.ts).
  const name = first.includes("@") ? first.slice(0, first.lastIndexOf("@")) : first;
  if (!isSnapshotName(name) || !(bare || first.includes("@") || parseVersionFolderName(second) !== undefined)) return undefined;
  // A local path spelled with "@" (`img@2x.png`) is that path.
  return first.includes("@") && statQuietly(first) !== undefined ? undefined : { name, bare };
}

async function weigh(uri: string, name: string, local: LocalHolding | undefined, other: DefaultHolding, kind: ArgumentKind): Promise<string> {
  const inRoot = under(other.root, uri);
  if (local === undefined) {
    if (other.holds) return inRoot;
    const hint = await namesNearHint(backendFromUri(other.root), name);
    throw new NotFoundError(`No folder at ${redact(uri)}, and no snapshot '${name}' in the default root ${redact(other.root)} (${rootSource()})${hint}.`, {
      path: redact(uri),
    });
  }
  if (other.same) return uri;
  if (!other.holds) {
    if (local.kind === "pulled") {
      writeError(`reading ./${redact(uri)}, which holds only pulled copies: the default root ${redact(other.root)} (${rootSource()}) has no '${name}'.`);
    }
    return uri;
  }
  const passedOver = (why: string): string => {
    writeError(`reading ${redact(inRoot)}, not ./${name}, ${why}`);
    return inRoot;
  };
  switch (local.kind) {
    case "versions":
      throw new InvalidArgumentError(
        `${redact(uri)} could mean ./${name} or ${redact(under(other.root, name))}, the default root's (${rootSource()}): ` +
          `both hold versions of '${name}'. Write ./${redact(uri)} or ${redact(inRoot)}.`,
        { path: redact(uri) },
      );
    case "pulled":
      return kind.refreshesPulled === true ? inRoot : passedOver(`which holds only pulled copies (to read those, write ./${redact(uri)}).`);
    case "none":
      return passedOver(`where no snapshot was found (for that folder, write ./${redact(uri)}).`);
    case "unreadable":
      return passedOver(`which could not be read: ${oneLine(local.error)}`);
    case "root":
      return uri;
  }
}

/**
 * The argument when the default root could not be read: the local folder, saying so, where it holds versions of
 * its own or (a bare name) is a folder; the root's error where only the root could hold it, or where the local
 * folder holds only pulled copies, which must not stand in for the root's snapshot unasked.
 */
function withoutDefaultRoot(uri: string, name: string, local: LocalHolding | undefined, error: unknown): string {
  if (local === undefined) throw error;
  switch (local.kind) {
    case "pulled":
      writeError(`not reading ./${name}, which holds only pulled copies, in place of the default root's '${name}', which could not be read (to read the copies, write ./${redact(uri)}).`);
      throw error;
    case "versions":
    case "none":
      writeError(`reading ./${redact(uri)}: the default root (${rootSource()}) could not be read to see whether it holds '${name}': ${oneLine(error)}`);
      return uri;
    case "unreadable": // its own error follows
    case "root":
      return uri;
  }
}

/** `<root>/<name>` holds versions; not asked when it is `./<name>` itself; `bounded`: waited for ROOT_WAIT_MS only. */
async function defaultRootHolding(root: string, name: string, bounded: boolean): Promise<DefaultHolding> {
  const location = parseLocation(root);
  if (location.scheme === "file" && sameFile(join(location.path, name), name)) return { root, holds: false, same: true };
  const holds = new VersionStore(backendFor(location), name).exists();
  return { root, holds: await (bounded ? answeredWithin(holds, root) : holds), same: false };
}

/** One folder by two spellings (a link in either): compared by device and inode, not by path. */
function sameFile(a: string, b: string): boolean {
  const first = statQuietly(a);
  const second = statQuietly(b);
  return first !== undefined && second !== undefined && first.dev === second.dev && first.ino === second.ino;
}

/** `answer`, or TRANSIENT once ROOT_WAIT_MS have passed without it (the CLI exits without waiting for it). */
async function answeredWithin<T>(answer: Promise<T>, root: string): Promise<T> {
  answer.catch(() => {}); // a failure after the wait is no one's
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransientError(`${redact(root)} did not answer within ${ROOT_WAIT_MS / 1000} s.`, { path: redact(root) })), ROOT_WAIT_MS);
  });
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `action` on the root given (read by the rule above), else on the default root. With no root given, what is
 * wrong with the root is the environment's doing: the error names OPENCRATE_ROOT (when it is set) or says the default
 * root was used, and the CLI exits 1, not 2 (a usage error).
 */
export async function onRoot<T>(given: string | undefined, action: (root: string) => Promise<T>): Promise<T> {
  if (given !== undefined) return action(await inDefaultRoot(given, { bareName: true }));
  let root: string | undefined;
  try {
    root = defaultRoot();
    return await action(root);
  } catch (error) {
    throw environmentError(namingTheRoot(error, root));
  }
}

const UNSET = "OPENCRATE_ROOT is not set";

/** Where the default root came from, for messages. */
function rootSource(): string {
  const fromEnv = process.env.OPENCRATE_ROOT;
  return fromEnv === undefined || fromEnv === "" ? UNSET : "from OPENCRATE_ROOT";
}

function under(root: string, uri: string): string {
  return `${root.replace(/\/+$/, "")}/${uri}`;
}

/** An error about the default root: it names OPENCRATE_ROOT, or, for a root that is not there, says it was the default. */
function namingTheRoot(error: unknown, root: string | undefined): unknown {
  if (root !== undefined && isOpenCrateError(error, "NOT_FOUND") && error.path === redact(root)) {
    return new NotFoundError(`${error.message.replace(/\.$/, "")} (the default root${rootSource() === UNSET ? `; ${UNSET}` : ", from OPENCRATE_ROOT"}).`, { path: error.path, cause: error });
  }
  const fromEnv = process.env.OPENCRATE_ROOT;
  if (!isOpenCrateError(error, "INVALID_ARGUMENT") || fromEnv === undefined || fromEnv === "") return error;
  // Already named, or about another variable (its name is the error's path).
  if (error.message.includes("OPENCRATE_ROOT") || (error.path !== undefined && /^[A-Z][A-Z0-9_]*$/.test(error.path))) return error;
  return new InvalidArgumentError(`OPENCRATE_ROOT: ${error.message}`, { ...(error.path === undefined ? {} : { path: error.path }), cause: error });
}
