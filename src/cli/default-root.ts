/**
 * The one rule for a relative argument that may name a snapshot of the default root (OPENCRATE_ROOT, else
 * "snapshots"), where setup() puts it: `train@latest`, `train/v3:baseline/…`, and for `ls`, `tree` and `ui` a bare
 * `train`. Two folders can be meant: `./train` and `<default root>/train`, and the one that holds versions is read.
 * A local folder that holds none (a code folder `model/`) or only copies a pull placed (pull's default destination
 * `./<name>/<version>`, marked by `.opencrate/pulled.json`) gives way to the default root's versions. The CLI says
 * on stderr which one it read when pulled copies were read or passed over, or a bare name's local folder passed
 * over (a code folder passed over for `model@latest` goes unsaid). Both holding versions of their own is
 * refused, naming both. Neither: the default root's error says what it holds (a bare name that is a local folder
 * stays that folder). `./train@latest`, an absolute path or a URI always mean what they say.
 */
import { statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { InvalidArgumentError, isOpenCrateError, NotFoundError } from "../errors.ts";
import { backendFor, backendFromUri } from "../backends/registry.ts";
import { defaultRoot } from "../snapshot/default-root.ts";
import { parseVersionFolderName } from "../snapshot/layout.ts";
import { namesNearHint } from "../snapshot/names-near.ts";
import { isSnapshotName } from "../snapshot/names.ts";
import { VersionStore } from "../snapshot/versions.ts";
import { parseLocation, redact, schemeLength } from "../uri.ts";
import { environmentError, writeError } from "./errors.ts";
import { holdsPullRecord } from "./pull/record-files.ts";

export interface ArgumentKind {
  /** A bare `<name>` may name a snapshot too (`ls`, `tree`, `ui`); otherwise only `<name>@…` and `<name>/v<N>…` do. */
  readonly bareName?: boolean;
}

/** What `./<name>` holds: versions of its own, only pulled copies, nothing of a snapshot; undefined when absent. */
type LocalHolding = "versions" | "pulled" | "none" | undefined;

/** The default root, and whether it holds versions of the name; `same` when it is the folder `./<name>` itself. */
interface DefaultHolding {
  readonly root: string;
  readonly holds: boolean;
  readonly same: boolean;
}

/** The argument as it is to be read: as given, or under the default root (see the rule above). */
export async function inDefaultRoot(uri: string, kind: ArgumentKind = {}): Promise<string> {
  const candidate = snapshotCandidate(uri, kind);
  if (candidate === undefined) return uri;
  const { name, bare } = candidate;
  const local = await localHolding(name);
  // `./<name>` missing, or no snapshot: nothing to weigh (a bare name still needs the default root's answer).
  if ((local === undefined || local === "none") && !bare) return under(await onRoot(undefined, async (root) => root), uri);
  let other: DefaultHolding;
  try {
    other = await onRoot(undefined, (root) => defaultRootHolding(root, name));
  } catch (error) {
    if (local === undefined) throw error;
    return uri; // the default root cannot be read: the local folder keeps its meaning
  }
  return weigh(uri, name, local, other);
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
  return first.includes("@") && statSync(first, { throwIfNoEntry: false }) !== undefined ? undefined : { name, bare };
}

async function weigh(uri: string, name: string, local: LocalHolding, other: DefaultHolding): Promise<string> {
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
    if (local === "pulled") {
      writeError(`reading ./${redact(uri)}, which holds only pulled copies: the default root ${redact(other.root)} (${rootSource()}) has no '${name}'.`);
    }
    return uri;
  }
  if (local === "versions") {
    throw new InvalidArgumentError(
      `${redact(uri)} could mean ./${name} or ${redact(under(other.root, name))}, the default root's (${rootSource()}): ` +
        `both hold versions of '${name}'. Write ./${redact(uri)} or ${redact(inRoot)}.`,
      { path: redact(uri) },
    );
  }
  const why = local === "pulled" ? "holds only pulled copies (to read those" : "holds no snapshot (for that folder";
  writeError(`reading ${redact(inRoot)}, not ./${name}, which ${why}, write ./${redact(uri)}).`);
  return inRoot;
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

async function localHolding(name: string): Promise<LocalHolding> {
  const info = statSync(name, { throwIfNoEntry: false });
  if (info === undefined) return undefined;
  if (!info.isDirectory()) return "none";
  const entries = await new VersionStore(backendFromUri("."), name).listVersions();
  if (entries.length === 0) return "none";
  const pulled = entries.every((entry) => entry.claim === undefined && entry.hasFolder && holdsPullRecord(join(name, entry.folder)));
  return pulled ? "pulled" : "versions";
}

async function defaultRootHolding(root: string, name: string): Promise<DefaultHolding> {
  const location = parseLocation(root);
  if (location.scheme === "file" && resolve(location.path, name) === resolve(name)) return { root, holds: false, same: true };
  return { root, holds: await new VersionStore(backendFor(location), name).exists(), same: false };
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
