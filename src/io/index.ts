/** `oc.io`: trees, listings and text/JSON/YAML files at local paths or URIs. */
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { backendFor, objectLocation } from "../backends/registry.ts";
import { isBookkeepingPath } from "../snapshot/bookkeeping.ts";
import { InvalidArgumentError, NotFoundError } from "../errors.ts";
import { BackendArtifactStorage } from "../handlers/backend-storage.ts";
import { builtinHandlers } from "../handlers/registry.ts";
import type { ArtifactHandler } from "../handlers/types.ts";
import { extensionOf } from "../snapshot/artifact.ts";
import { parseLocation, redact, type Location } from "../uri.ts";
import { renderTree, type TreeFile } from "./tree.ts";

export interface ShowFilesOptions {
  /** Levels below the folder to show (0: the folder only). Default 2. */
  readonly depth?: number;
  /** Sizes and modification times. Default false. */
  readonly verbose?: boolean;
  /** Print the tree to stdout. Default true. */
  readonly print?: boolean;
}

/** Prints the tree of a folder (local path or URI) and returns it. Dot-entries are hidden. */
export async function showFilesInDir(pathOrUri: string, options: ShowFilesOptions = {}): Promise<string> {
  const depth = options.depth ?? 2;
  if (!Number.isInteger(depth) || depth < 0) {
    throw new InvalidArgumentError(`depth must be a non-negative integer, got ${String(depth)}.`);
  }
  const location = parseLocation(pathOrUri);
  const backend = backendFor(location);
  await assertFolderExists(location, pathOrUri);
  const files: TreeFile[] = [];
  for await (const info of backend.list("")) files.push({ path: info.key, size: info.size, lastModified: info.lastModified });
  if (files.length === 0) assertSomethingThere(location, pathOrUri);
  const colour = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const render = (styled: boolean): string =>
    renderTree(files, {
      rootLabel: labelOf(location),
      depth,
      verbose: options.verbose ?? false,
      ...(styled ? { styleDetail: (text: string) => `\x1b[2m${text}\x1b[0m` } : {}),
    });
  if (options.print ?? true) process.stdout.write(`${render(colour)}\n`);
  return render(false);
}

/**
 * Sorted names of the files directly inside a folder (local path or URI). Dot-files are included; opencrate's
 * bookkeeping (`.opencrate-probe-…`, `.~oc-…` temp and lock files, `pull`'s `.ocpart-…` partial files) is left
 * out, as `ls` leaves it out, and so are "." and "..", which an object store can hold but no file can be named
 * (joined to a path, they lead out of the folder). Other names come as stored, control characters included:
 * escape them before printing one to a terminal.
 */
export async function listFilesInDir(pathOrUri: string): Promise<string[]> {
  const location = parseLocation(pathOrUri);
  await assertFolderExists(location, pathOrUri);
  const backend = backendFor(location);
  const names: string[] = [];
  let folders = 0;
  let pageToken: string | undefined;
  do {
    const page = await backend.listPage("", pageToken === undefined ? {} : { pageToken });
    for (const info of page.objects) if (info.key !== "." && info.key !== ".." && !isBookkeepingPath(info.key)) names.push(info.key);
    folders += page.prefixes.length;
    pageToken = page.nextPageToken;
  } while (pageToken !== undefined);
  if (names.length === 0 && folders === 0) assertSomethingThere(location, pathOrUri);
  return names.sort();
}

interface FileCodec<In, Out> {
  save(data: In, pathOrUri: string): Promise<void>;
  load(pathOrUri: string): Promise<Out>;
}

function codec<In, Out>(handler: ArtifactHandler<In, Out, unknown, unknown>): FileCodec<In, Out> {
  const storageFor = (pathOrUri: string): { storage: BackendArtifactStorage; name: string } => {
    const { backend, key } = objectLocation(pathOrUri);
    return { storage: new BackendArtifactStorage({ backend, key }), name: basename(key) };
  };
  return {
    async save(data, pathOrUri) {
      const { storage, name } = storageFor(pathOrUri);
      await handler.save(data, storage, undefined, { name, extension: extensionOf(name) });
    },
    async load(pathOrUri) {
      const { storage, name } = storageFor(pathOrUri);
      return handler.load(storage, undefined, { name, extension: extensionOf(name) });
    },
  };
}

type HandlerIn<H> = H extends ArtifactHandler<infer In, unknown, never, never> ? In : never;
type HandlerOut<H> = H extends ArtifactHandler<never, infer Out, never, never> ? Out : never;
type Builtins = typeof builtinHandlers;

export const io = {
  showFilesInDir,
  listFilesInDir,
  text: codec(builtinHandlers.text as ArtifactHandler<unknown, unknown, unknown, unknown>) as FileCodec<
    HandlerIn<Builtins["text"]>,
    HandlerOut<Builtins["text"]>
  >,
  json: codec(builtinHandlers.json as ArtifactHandler<unknown, unknown, unknown, unknown>) as FileCodec<
    HandlerIn<Builtins["json"]>,
    HandlerOut<Builtins["json"]>
  >,
  yaml: codec(builtinHandlers.yaml as ArtifactHandler<unknown, unknown, unknown, unknown>) as FileCodec<
    HandlerIn<Builtins["yaml"]>,
    HandlerOut<Builtins["yaml"]>
  >,
};

export type Io = typeof io;

function labelOf(location: Location): string {
  if (location.scheme === "file") return basename(location.path.replace(/\/+$/, "")) || location.path;
  if (location.prefix !== "") return location.prefix.slice(location.prefix.lastIndexOf("/") + 1);
  return location.scheme === "memory" ? location.name : location.bucket;
}

/** On object stores a folder exists only through its objects: an empty prefix is as missing as a local folder. */
function assertSomethingThere(location: Location, pathOrUri: string): void {
  if (location.scheme === "file") return; // an empty local folder exists (assertFolderExists checked it)
  throw new NotFoundError(`Nothing is stored under ${redact(pathOrUri)}.`, { path: redact(pathOrUri) });
}

async function assertFolderExists(location: Location, pathOrUri: string): Promise<void> {
  if (location.scheme !== "file") return;
  try {
    const info = await stat(location.path);
    if (!info.isDirectory()) {
      throw new InvalidArgumentError(`${pathOrUri} is a file, not a folder.`, { path: pathOrUri });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new NotFoundError(`No folder at ${redact(pathOrUri)}.`, { path: pathOrUri, cause: error });
    }
    throw error;
  }
}
