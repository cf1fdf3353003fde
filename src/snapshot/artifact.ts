/**
 * The one Artifact class every type shares: paths, atomic saves (the backend's), backups, listing, deletion,
 * streaming and the verbose log lines. Handlers only encode and decode.
 */
import type { Readable } from "node:stream";
import type { StorageBackend } from "../backends/backend.ts";
import { CREATE_ONLY } from "../backends/backend.ts";
import { joinKey } from "../backends/keys.ts";
import { clock } from "../clock.ts";
import { hasObjectsUnder, objectExists } from "../backends/presence.ts";
import { sameContent } from "../backends/same-content.ts";
import {
  AlreadyExistsError,
  ConfirmationRequiredError,
  isOpenCrateError,
  NotFoundError,
  PreconditionFailedError,
  type ErrorOptions,
  type OpenCrateError,
  ReadOnlyError,
  TransientError,
} from "../errors.ts";
import { BackendArtifactStorage } from "../handlers/backend-storage.ts";
import type { ArtifactHandler, ArtifactStorage, HandlerContext } from "../handlers/types.ts";
import { validateTag } from "./names.ts";

/** How an artifact reports its verbose lines. */
export interface ArtifactLog {
  info(message: string): void;
}

export interface ArtifactInit<In, Out, SaveOptions, LoadOptions> {
  readonly backend: StorageBackend;
  readonly key: string;
  readonly name: string;
  readonly snapshotType: string;
  readonly handler: ArtifactHandler<In, Out, SaveOptions, LoadOptions>;
  readonly verbose: boolean;
  readonly readOnly: boolean;
  readonly log: ArtifactLog;
  /**
   * Whether the artifact's path may be a folder of objects (custom handlers): exists, backup and delete then take
   * in everything below it. Built-in types (the default, false) are one object, and only that object counts.
   */
  readonly folderLike?: boolean;
  /**
   * Throws when the artifact's name may not be written: a bookkeeping name the listings leave out, or one too long
   * to write with room for its backups (see snapshot.ts #nameCheck); called before every save and backup. Reading,
   * listing and deleting take any name, as other tools (and earlier releases) may have written it.
   */
  readonly checkName?: () => void;
  /**
   * Throws when the run may no longer write into its version (it was deleted under it): called before every write,
   * backup and delete, also of what a custom handler writes (see snapshot.ts #versionCheck).
   */
  readonly checkVersion?: () => void;
}

export class Artifact<In, Out, SaveOptions = undefined, LoadOptions = undefined> {
  readonly name: string;
  readonly snapshotType: string;
  readonly verbose: boolean;
  /** Storage scoped to this artifact's path (custom handlers get the same object). */
  readonly storage: ArtifactStorage;
  readonly #handler: ArtifactHandler<In, Out, SaveOptions, LoadOptions>;
  readonly #context: HandlerContext;
  readonly #log: ArtifactLog;
  readonly #folderLike: boolean;
  readonly #checkName: () => void;
  readonly #checkVersion: () => void;

  constructor(init: ArtifactInit<In, Out, SaveOptions, LoadOptions>) {
    this.name = init.name;
    this.snapshotType = init.snapshotType;
    this.verbose = init.verbose;
    this.#folderLike = init.folderLike ?? false;
    this.#checkName = init.checkName ?? (() => {});
    this.#checkVersion = init.checkVersion ?? (() => {});
    this.storage = new BackendArtifactStorage({
      backend: init.backend,
      key: init.key,
      readOnly: init.readOnly,
      checkWritable: this.#checkVersion,
      name: init.name,
      folderLike: this.#folderLike,
      refuseBookkeeping: true,
    });
    this.#handler = init.handler;
    this.#context = { name: init.name, extension: extensionOf(init.name) };
    this.#log = init.log;
  }

  /** Where the artifact lives: a local path or a URI. */
  get path(): string {
    return this.storage.path;
  }

  /** Saves atomically: readers see the old or the new content, never a part. */
  async save(data: In, options?: SaveOptions): Promise<void> {
    this.#assertWritable("save");
    this.#checkName();
    await this.#handler.save(data, this.storage, options, this.#context);
    this.#logVerbose(`✓ '${this.name}' of '${this.snapshotType}' saved successfully at '${this.path}'.`);
  }

  /** NotFoundError when the artifact is missing. */
  async load(options?: LoadOptions): Promise<Out> {
    let value: Out;
    try {
      value = await this.#handler.load(this.storage, options, this.#context);
    } catch (error) {
      if (isOpenCrateError(error, "NOT_FOUND")) {
        throw new NotFoundError(`No ${this.snapshotType} artifact '${this.name}' at ${this.path}.`, {
          path: this.path,
          cause: error,
        });
      }
      throw error;
    }
    this.#logVerbose(`✓ '${this.name}' of '${this.snapshotType}' loaded successfully from '${this.path}'.`);
    return value;
  }

  exists(): Promise<boolean> {
    return this.storage.exists();
  }

  /**
   * Copies the artifact (server-side) to `<stem>.backup_<tag><ext>`, or `<stem>.backup_<HH:MM:SS_DD-Mon-YYYY><ext>`
   * without a tag; a folder-like custom artifact (objects below its path) is copied object by object into a folder
   * of that name. A built-in type's artifact is only its object: what lies below its path is not its own. Never
   * replaces a backup: a repeated tag throws AlreadyExistsError, unless the one-object backup there holds exactly
   * the artifact's current bytes, which is then taken as this call's (so a backup whose answer was lost can be
   * repeated; a failed folder backup deletes its copies instead, so it can be repeated too); a timestamp taken twice in one second gets a -2, -3 … suffix. Returns the
   * backup's name, or undefined when there is nothing to back up.
   */
  async backup(tag?: string): Promise<string | undefined> {
    this.#assertWritable("back up");
    const validTag = validateTag(tag, "backup tag");
    this.#checkName();
    const below = await this.#keysBelow();
    if (below.length === 0 && !(await objectExists(this.storage.backend, this.storage.key))) {
      this.#logVerbose(`✗ '${this.name}' of '${this.snapshotType}' does not exist at '${this.path}', cannot create backup.`);
      return undefined;
    }
    const { stem, extension } = splitName(this.#baseName());
    const label = validTag ?? backupTimestamp(clock().now());
    const { backend } = this.storage;
    for (let attempt = 1; ; attempt++) {
      const backupName = `${stem}.backup_${label}${attempt === 1 ? "" : `-${attempt}`}${extension}`;
      const target = joinKey(this.#folderKey(), backupName);
      try {
        if (below.length === 0) await this.#copyObject(target);
        else await this.#copyFolder(below, target);
      } catch (error) {
        if (!isOpenCrateError(error, "ALREADY_EXISTS")) throw error;
        if (validTag !== undefined) {
          const found = await this.#compareBackup(below, target);
          if (found.kind === "partial") {
            throw new AlreadyExistsError(
              `A backup tagged '${validTag}' of '${this.name}' exists at ${backend.describe(target)} but holds only ${found.count} of the ${below.length} objects of '${this.name}', each as the artifact has it: a backup of an earlier state with fewer objects, a backup that failed and could not be removed, or one being made now. If it is not a backup you keep, delete everything below ${backend.describe(target)} once no backup is running, and back up again.`,
              { path: backend.describe(target), cause: error },
            );
          }
          if (found.kind === "other") {
            throw new AlreadyExistsError(
              `A backup tagged '${validTag}' of '${this.name}' already exists at ${backend.describe(target)}.`,
              { path: backend.describe(target), cause: error },
            );
          }
          if (below.length > 0) {
            // Not taken as this call's own: a folder backup another process is making holds the same objects until
            // its cleanup removes them should one of its copies fail.
            throw new AlreadyExistsError(
              `A backup tagged '${validTag}' of '${this.name}' already exists at ${backend.describe(target)}, holding the artifact's objects as they are now (made by another process, or by an earlier call).`,
              { path: backend.describe(target), cause: error },
            );
          }
          this.#logVerbose(`✓ Backup of '${this.name}' of '${this.snapshotType}' found at '${backend.describe(target)}', the same as the artifact.`);
          return backupName;
        }
        continue;
      }
      this.#logVerbose(`✓ Backup of '${this.name}' of '${this.snapshotType}' created at '${backend.describe(target)}'.`);
      return backupName;
    }
  }

  /**
   * Copies the artifact's one object create-only to `target`. When the outcome is unknown (TRANSIENT: the copy may
   * have landed with its answer lost), the error says that a backup may be there, which is left: it is whole either way.
   */
  async #copyObject(target: string): Promise<void> {
    const { backend } = this.storage;
    try {
      await backend.copy(this.storage.key, target, { mode: CREATE_ONLY });
    } catch (error) {
      if (!isOpenCrateError(error, "TRANSIENT")) throw error;
      throw new TransientError(
        `Backing up '${this.name}' to ${backend.describe(target)} failed, and the copy may have been made there: ${error.message} The same tagged backup repeated succeeds when the backup there holds the artifact's bytes; an untagged one makes another backup.`,
        { path: backend.describe(target), cause: error },
      );
    }
  }

  /**
   * What is at the backup name `target` that a create-only copy found taken: exactly the artifact's current content
   * ("same"), for a folder a part of it each object of which is the same as the artifact's ("partial"), or anything
   * else ("other").
   */
  async #compareBackup(relatives: readonly string[], target: string): Promise<{ kind: "same" | "other" } | { kind: "partial"; count: number }> {
    const { backend } = this.storage;
    if (relatives.length === 0) {
      return (await sameContent(backend, this.storage.key, target)) ? { kind: "same" } : { kind: "other" };
    }
    if (await objectExists(backend, target)) return { kind: "other" };
    const wanted = new Set(relatives);
    const found: string[] = [];
    const base = `${target}/`;
    for await (const info of backend.list(base)) {
      const relative = info.key.slice(base.length);
      if (!wanted.has(relative)) return { kind: "other" };
      found.push(relative);
    }
    if (found.length === 0) return { kind: "other" };
    for (const relative of found) {
      if (!(await sameContent(backend, joinKey(this.storage.key, relative), joinKey(target, relative)))) return { kind: "other" };
    }
    return found.length === relatives.length ? { kind: "same" } : { kind: "partial", count: found.length };
  }

  /** The keys below the artifact's path, relative to it, sorted (none for a one-object or built-in artifact). */
  async #keysBelow(): Promise<string[]> {
    if (!this.#folderLike) return [];
    const base = `${this.storage.key}/`;
    const keys: string[] = [];
    for await (const info of this.storage.backend.list(base)) keys.push(info.key.slice(base.length));
    return keys.sort();
  }

  /**
   * Copies each object below the artifact's path create-only to the same place below `target`. The name is taken
   * when anything is at `target` or below it; of two backups racing for one name, the one whose first copy lands
   * has it and the other gets ALREADY_EXISTS. A failed copy removes every copy this call tried, those whose outcome
   * is unknown (a lost answer) included, so no half backup stays; only a copy that met another backup's object
   * (ALREADY_EXISTS) or found its source gone (nothing written) is not removed. When that removal fails too, the
   * error says the backup is partial and where it is, to be deleted by hand.
   */
  async #copyFolder(relatives: readonly string[], target: string): Promise<void> {
    const { backend } = this.storage;
    if ((await objectExists(backend, target)) || (await hasObjectsUnder(backend, `${target}/`))) {
      throw new AlreadyExistsError(`${backend.describe(target)} already exists.`, { path: backend.describe(target) });
    }
    const attempted: string[] = [];
    try {
      for (const relative of relatives) {
        const to = joinKey(target, relative);
        attempted.push(to);
        try {
          await backend.copy(joinKey(this.storage.key, relative), to, { mode: CREATE_ONLY });
        } catch (error) {
          // Neither wrote anything of ours at `to`: the object there (if any) is another backup's.
          if (isOpenCrateError(error, "ALREADY_EXISTS") || isOpenCrateError(error, "NOT_FOUND")) attempted.pop();
          if (!isOpenCrateError(error, "NOT_FOUND")) throw error;
          throw new PreconditionFailedError(
            `'${this.name}' changed while it was being backed up: ${this.storage.describe(relative)} was deleted. Back it up again.`,
            { path: this.path, cause: error },
          );
        }
      }
    } catch (error) {
      try {
        await backend.deleteMany(attempted);
      } catch (cleanupError) {
        throw partialBackupError(error, cleanupError, this.name, backend.describe(target));
      }
      throw error;
    }
  }

  /**
   * The names of this artifact's backups, oldest first: exactly the names backup() makes for it (objects, and for a
   * folder-like custom artifact also folders). Backups written in one second (object stores keep times to the
   * second) are ordered by their `-2`, `-3` … suffix, which backup() hands out in creation order.
   */
  async listBackups(): Promise<string[]> {
    const { stem, extension } = splitName(this.#baseName());
    const folder = this.#folderKey();
    const start = `${stem}.backup_`;
    const found = new Map<string, { time: number; label: BackupLabel }>();
    const siblings = new Map<string, boolean>();
    for await (const info of this.storage.backend.list(joinKey(folder, start))) {
      const rest = info.key.slice(folder.length + 1);
      const slash = rest.indexOf("/");
      if (slash !== -1 && !this.#folderLike) continue;
      const name = slash === -1 ? rest : rest.slice(0, slash);
      if (!name.startsWith(start) || !name.endsWith(extension)) continue;
      const label = parseBackupLabel(name.slice(start.length, name.length - extension.length));
      if (label === undefined) continue;
      if (extension === "" && (await this.#siblingClaims(name.slice(start.length), siblings))) continue;
      const time = info.lastModified.getTime();
      const seen = found.get(name);
      found.set(name, { time: Math.min(time, seen?.time ?? time), label });
    }
    return [...found]
      .sort(
        ([nameA, a], [nameB, b]) =>
          a.time - b.time ||
          compareText(a.label.base, b.label.base) ||
          a.label.attempt - b.label.attempt ||
          compareText(nameA, nameB),
      )
      .map(([name]) => name);
  }

  /**
   * Whether `<stem>.backup_<label>.<ext>`, listed for the extensionless artifact `<stem>` (a tag with a dot), is
   * rather a backup of its sibling `<stem>.<ext>`: the name cannot tell, so it goes to that sibling when it exists.
   */
  async #siblingClaims(label: string, siblings: Map<string, boolean>): Promise<boolean> {
    const dot = label.lastIndexOf(".");
    if (dot === -1) return false;
    const extension = label.slice(dot);
    const sibling = joinKey(this.#folderKey(), `${splitName(this.#baseName()).stem}${extension}`);
    let exists = siblings.get(sibling);
    if (exists === undefined) {
      exists = (await objectExists(this.storage.backend, sibling)) || (await hasObjectsUnder(this.storage.backend, `${sibling}/`));
      siblings.set(sibling, exists);
    }
    return exists;
  }

  /** Deletes the artifact (and, for folder-like custom artifacts, everything below it). Missing: nothing happens. */
  async delete(options: { confirm?: boolean } = {}): Promise<void> {
    this.#assertWritable("delete");
    if (!(await this.exists())) {
      this.#logVerbose(`✗ '${this.name}' of '${this.snapshotType}' does not exist at '${this.path}'.`);
      return;
    }
    if (options.confirm !== true) {
      throw new ConfirmationRequiredError(
        `Deleting '${this.name}' at ${this.path} needs { confirm: true }: this permanently deletes it.`,
        { path: this.path },
      );
    }
    await this.storage.delete("", { recursive: this.#folderLike });
    this.#logVerbose(`✓ '${this.name}' of '${this.snapshotType}' deleted successfully.`);
  }

  /** Uploads a local file as the artifact's bytes, streaming in constant memory. */
  async saveFile(localPath: string): Promise<void> {
    this.#assertWritable("save");
    this.#checkName();
    await this.storage.writeFile(localPath);
    this.#logVerbose(`✓ '${this.name}' of '${this.snapshotType}' saved successfully at '${this.path}'.`);
  }

  /** Uploads a stream as the artifact's bytes, in constant memory. */
  async saveStream(body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>): Promise<void> {
    this.#assertWritable("save");
    this.#checkName();
    await this.storage.writeStream(body as Readable | AsyncIterable<Uint8Array>);
    this.#logVerbose(`✓ '${this.name}' of '${this.snapshotType}' saved successfully at '${this.path}'.`);
  }

  /** The artifact's bytes as a stream. NotFoundError when missing. */
  async openRead(): Promise<Readable> {
    return this.storage.openRead();
  }

  /** Streams the artifact's bytes into a local file (written to a temporary name, then renamed). */
  async downloadTo(localPath: string): Promise<void> {
    await this.storage.downloadTo(localPath);
  }

  toString(): string {
    return `Artifact: ${this.name}\nType: ${this.snapshotType}\nPath: ${this.path}`;
  }

  #baseName(): string {
    return this.storage.key.slice(this.storage.key.lastIndexOf("/") + 1);
  }

  #folderKey(): string {
    return this.storage.key.slice(0, this.storage.key.lastIndexOf("/"));
  }

  #assertWritable(action: string): void {
    if (this.storage.readOnly) {
      throw new ReadOnlyError(`Cannot ${action} '${this.name}' at ${this.path}: the snapshot is open read-only.`, {
        path: this.path,
      });
    }
    this.#checkVersion();
  }

  #logVerbose(message: string): void {
    if (this.verbose) this.#log.info(message);
  }
}

/**
 * A folder backup failed and removing what it had copied failed too: the error of the first failure's code (a
 * backend's copy throws only OpenCrateErrors of the plain kinds), saying which backup is partial and where.
 */
function partialBackupError(error: unknown, cleanupError: unknown, name: string, location: string): OpenCrateError {
  // ALREADY_EXISTS would read as "name taken" to an untagged backup, which would go on to the next name and leave
  // the partial one unreported.
  const kept = isOpenCrateError(error) && error.code !== "ALREADY_EXISTS" ? error.constructor : TransientError;
  const Kind = kept as new (message: string, options: ErrorOptions) => OpenCrateError;
  const what = error instanceof Error ? error.message : String(error);
  const why = cleanupError instanceof Error ? cleanupError.message : String(cleanupError);
  return new Kind(
    `${what} Removing what this backup of '${name}' had copied failed too (${why}): ${location} is a partial backup that listBackups() lists; delete everything below ${location} by hand.`,
    { path: location, cause: error },
  );
}

/** `model.safetensors` → { stem: "model", extension: ".safetensors" }; `archive` → { stem: "archive", extension: "" }. */
export function splitName(fileName: string): { stem: string; extension: string } {
  const dot = fileName.lastIndexOf(".");
  if (dot <= 0) return { stem: fileName, extension: "" };
  return { stem: fileName.slice(0, dot), extension: fileName.slice(dot) };
}

export function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf("/") + 1);
  return splitName(base).extension.toLowerCase();
}

/** A backup's label: its tag, or its timestamp and which attempt in that second (1 when unsuffixed). */
interface BackupLabel {
  readonly base: string;
  readonly attempt: number;
}

const TIMESTAMP_LABEL = /^(\d\d:\d\d:\d\d_\d\d-[A-Z][a-z]{2}-\d{4})(?:-([1-9]\d{0,8}))?$/;

/** The label of a backup name: a timestamp with an optional -N, or a tag (ours, or a free-form one of Python's). */
function parseBackupLabel(label: string): BackupLabel | undefined {
  const timestamp = TIMESTAMP_LABEL.exec(label);
  if (timestamp !== null) return { base: timestamp[1] ?? label, attempt: timestamp[2] === undefined ? 1 : Number(timestamp[2]) };
  // Any other label is a tag: Python OpenCrate takes free-form ones ("epoch 5", "v1:final"), so only a path is not.
  return label === "" || label.includes("/") ? undefined : { base: label, attempt: 1 };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `11:46:37_16-Nov-2025`, local time, as the Python library names timestamped backups. */
export function backupTimestamp(time: Date): string {
  const two = (value: number): string => String(value).padStart(2, "0");
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}_${two(time.getDate())}-${MONTHS[time.getMonth()]}-${time.getFullYear()}`;
}
