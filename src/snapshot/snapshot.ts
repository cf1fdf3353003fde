/** A versioned snapshot of one pipeline run: its version, folder, logs and artifacts. */
import type { ObjectInfo, StorageBackend } from "../backends/backend.ts";
import { deleteListed } from "../backends/delete-at-revision.ts";
import { keyBytesLimit, validateKey } from "../backends/keys.ts";
import { backendFromUri } from "../backends/registry.ts";
import { checkedBackend } from "../backends/layers/checked.ts";
import { retryPolicyOf } from "../backends/retry-policy.ts";
import { sortListedTemps } from "../backends/temp-names.ts";
import {
  ConfirmationRequiredError,
  InvalidArgumentError,
  isOpenCrateError,
  NotSetUpError,
  PreconditionFailedError,
  ReadOnlyError,
} from "../errors.ts";
import { builtinHandlers } from "../handlers/registry.ts";
import type {
  AudioLoadResult,
  CheckpointLoadOptions,
  CheckpointLoadResult,
  CsvLoadOptions,
  CsvLoadResult,
  ImageLoadOptions,
  ImageLoadResult,
} from "../handlers/data-types.ts";
import type { ArtifactHandler } from "../handlers/types.ts";
import { exitFlushTimeoutFromEnv, registerForExit } from "../logs/exit-hooks.ts";
import { LevelMethods } from "../logs/level-methods.ts";
import type { LogLevelName } from "../logs/levels.ts";
import { RunLogger } from "../logs/logger.ts";
import type { RunRecord, RunStatus } from "../logs/run-record.ts";
import { startRunSink } from "../logs/run-sink.ts";
import type { RunSink } from "../logs/sink.ts";
import { VersionDeletedMark } from "../logs/version-deleted.ts";
import { Artifact } from "./artifact.ts";
import {
  adaptCustomHandler,
  exposeHandlerMethods,
  validateHandlerClass,
  type CustomArtifact,
  type CustomHandler,
  type CustomHandlerClass,
  type HandlerAttachments,
} from "./custom-handler.ts";
import {
  artifactKey,
  BUILTIN_TYPES,
  claimKey,
  DEV_VERSION,
  historyKey,
  isBuiltinType,
  isResetFolder,
  logKey,
  nameKey,
  typeFolder,
  versionKey,
} from "./layout.ts";
import { DEFAULT_ROOT } from "./default-root.ts";
import { gitState } from "./git-state.ts";
import { refuseReplaceWhileRunning, refuseResetWhileRunning } from "./live-runs.ts";
import { checkArtifactNameLength, refuseBookkeepingArtifactName, refuseRunLogType, validateTypeName } from "./names.ts";
import { forgetPythonCounter, pythonConfigFor, raisePythonCounter } from "./python-counter.ts";
import { type ResolvedVersion, resolveVersion } from "./resolve-version.ts";
import { rankWithoutRunIdWarning, setupRunId } from "./run-env.ts";
import { listRunRecords, summarizeRuns, type RunSummary } from "./run-records.ts";
import { firstRunRecord } from "./run-start.ts";
import { parseSetupOptions, type SetupOptions } from "./setup-options.ts";
import { VersionStore, type VersionEntry } from "./versions.ts";

export type { SetupOptions } from "./setup-options.ts";

export interface VersionInfo {
  /** The number, or "dev" for the scratch folder. */
  readonly version: number | typeof DEV_VERSION;
  /** The folder's tag. */
  readonly tag: string | undefined;
  /** The folder: "v3", "v3:baseline", "dev". */
  readonly versionName: string;
  /** When the number was claimed; undefined for a folder another tool wrote (it has no claim). */
  readonly createdAt: string | undefined;
  readonly runId?: string;
  /** From the run records of the version's latest run (absent for versions written without them). */
  readonly status?: RunStatus;
  readonly endedAt?: string;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly lastSeen?: string;
  /** True when the number has a claim (made by this library); false for a folder alone. */
  readonly claimed: boolean;
  /** False for a claimed version whose folder holds nothing yet. */
  readonly hasFolder: boolean;
}

/**
 * Numbers a "new" setup claims before it gives up when each one's folder turns out to be taken by another writer
 * (a `.log` there before ours): more than two in a row means something keeps writing into fresh versions.
 */
const NEW_VERSION_ATTEMPTS = 3;

interface ActiveRun {
  readonly backend: StorageBackend;
  readonly name: string;
  readonly version: number | typeof DEV_VERSION;
  readonly tag: string | undefined;
  readonly folder: string;
  readonly readOnly: boolean;
  /** The Python OpenCrate config kept in step with this name's numbers (see python-counter.ts), if any. */
  readonly pythonConfig?: string | undefined;
  readonly writer: RunSink | undefined;
  readonly unregisterExit: (() => void) | undefined;
  /** This run's record: its own run never stops `reset()`. Undefined when open read-only. */
  readonly recordKey?: string;
  /** Set once the version was found deleted under the run by another process: its saves then fail. */
  readonly deletedMark?: VersionDeletedMark;
}

type ArtifactOf<H> = H extends ArtifactHandler<infer In, infer Out, infer SaveOptions, infer LoadOptions>
  ? Artifact<In, Out, SaveOptions, LoadOptions>
  : never;
type Builtins = typeof builtinHandlers;
/** A built-in artifact whose `load` resolves to `T` (JSON and YAML, where only the caller knows the shape). */
type TypedLoadArtifact<H, T> = H extends ArtifactHandler<infer In, unknown, infer SaveOptions, infer LoadOptions>
  ? Artifact<In, T, SaveOptions, LoadOptions>
  : never;
/** An artifact whose `load` result type follows its options or its name's extension. */
type WithLoad<A, Load> = Omit<A, "load"> & { load: Load };
export type ImageArtifact = WithLoad<
  ArtifactOf<Builtins["image"]>,
  <O extends ImageLoadOptions | undefined = undefined>(options?: O) => Promise<ImageLoadResult<O>>
>;
export type CsvArtifact = WithLoad<
  ArtifactOf<Builtins["csv"]>,
  <O extends CsvLoadOptions | undefined = undefined>(options?: O) => Promise<CsvLoadResult<O>>
>;
export type AudioArtifact<Name extends string> = WithLoad<ArtifactOf<Builtins["audio"]>, () => Promise<AudioLoadResult<Name>>>;
export type CheckpointArtifact<Name extends string> = WithLoad<
  ArtifactOf<Builtins["checkpoint"]>,
  (options?: CheckpointLoadOptions) => Promise<CheckpointLoadResult<Name>>
>;

export interface ArtifactOptions {
  /** Log a line after each save and load. */
  readonly verbose?: boolean;
}

export class Snapshot extends LevelMethods {
  /** This snapshot's logger: console always, the version's log objects once set up. */
  readonly logger: RunLogger;
  #run: ActiveRun | undefined;
  /** Where the last run was when close() ended it, for the error of a later call; cleared by setup. */
  #closedAt: string | undefined;
  /**
   * The run whose close() failed: its lines are kept and its exit hooks stay registered; the next close(), flush()
   * or setup() tries again.
   */
  #unclosed: ActiveRun | undefined;

  constructor(options: { console?: boolean } = {}) {
    super();
    this.logger = new RunLogger({ console: options.console ?? true });
  }

  /** Creates a snapshot and sets it up. */
  static async setup(options: SetupOptions): Promise<Snapshot> {
    const snapshot = new Snapshot({ console: parseSetupOptions(options).console });
    await snapshot.setup(options);
    return snapshot;
  }

  /** Opens an existing snapshot read-only (see API.md "Pulling by URI"). */
  static async open(uri: string): Promise<Snapshot> {
    const { openSnapshot } = await import("./open.ts");
    const { backend, name, version, tag, folder } = await openSnapshot(uri);
    const snapshot = new Snapshot({ console: false });
    snapshot.#run = { backend, name, version, tag, folder, readOnly: true, writer: undefined, unregisterExit: undefined };
    return snapshot;
  }

  /**
   * Resolves the version (claiming a new number with a create-only write for "new"), then starts this run's
   * logs. A second setup on the same object closes the previous run first.
   */
  async setup(options: SetupOptions): Promise<this> {
    const parsed = parseSetupOptions(options);
    const { name, tag, rank } = parsed;
    exitFlushTimeoutFromEnv(); // a malformed OPENCRATE_EXIT_FLUSH_MS fails here, before anything is written
    const backend = backendOf(options);
    const setupRun = setupRunId(options.runId, name);
    const { runId } = setupRun;
    const pythonConfig = pythonConfigFor(options.backend === undefined ? parsed.root : undefined);

    const startedAt = new Date();
    let git: ReturnType<typeof gitState>;
    try {
      // The previous run's log is closed at once (before close() first waits); from then on lines wait for this
      // run's log, setup's own warnings and lines logged while the previous log is still being stored among them.
      const closing = this.close();
      this.logger.detach();
      await closing;
      this.logger.setLevel(parsed.level);
      this.logger.setConsole(parsed.console);
      git = gitState();
      const rankWarning = rankWithoutRunIdWarning(runId);
      if (rankWarning !== undefined) this.logger.warning(rankWarning);
    } catch (error) {
      setupRun.release();
      throw error;
    }
    let resolved: ResolvedVersion;
    let writer: RunSink | undefined;
    let recordKey: string;
    const deletedMark = new VersionDeletedMark();
    for (let attempt = 1; ; attempt++) {
      try {
        resolved = await resolveVersion({
          backend,
          name,
          start: parsed.start,
          tag,
          runId,
          rank,
          replace: parsed.replace,
          pythonConfig,
          warn: (message) => this.logger.warning(message),
        });
      } catch (error) {
        setupRun.release();
        throw error;
      }
      const { version, folder, resumed, empties, emptied, abandoned } = resolved;
      // At once: a Python script numbering its "new" run from the counter meanwhile would take this version too.
      if (version !== DEV_VERSION) await this.#raisePythonCounter(pythonConfig, name, version, backend);

      const log = logKey(name, folder, rank);
      writer = undefined;
      try {
        // Before the new log is written into the folder: a folder that cannot be emptied (on local disk, one reached
        // through a link) is refused with nothing written, not after the new log has replaced the old one.
        if (empties) {
          await backend.checkDeletable?.(`${versionKey(name, folder)}/`);
          await refuseReplaceWhileRunning(backend, name, version, folder, runId);
        }
        const first = firstRunRecord({
          name,
          // Trap: run records are grouped by number; the unnumbered "dev" folder files its records under -1.
          version: version === DEV_VERSION ? -1 : version,
          versionName: folder,
          log: log.slice(versionKey(name, folder).length + 1),
          runId,
          rank,
          startedAt,
          git: await git,
        });
        recordKey = first.key;
        writer = await startRunSink(backend, {
          logKey: log,
          historyKey: historyKey(name, folder, rank),
          resume: resumed,
          // A version this process's "new" just claimed: a `.log` there is another writer's, never replaced. A
          // process joining its run's version may find the run's own `.log` (another process of the run): not
          // create-only. Nor is the claiming process of a run id without ranks: its processes share one `.log`, and
          // one that joined may have written it first.
          createOnly: resolved.claimedNew && (runId === undefined || rank !== undefined),
          recordKey,
          record: first.record,
          deletedMark: deletedMark.buffer,
          claim: version === DEV_VERSION || resolved.claimToken === undefined ? undefined : { key: claimKey(name, version), token: resolved.claimToken },
          ...(parsed.logFlushIntervalMs === undefined ? {} : { flushIntervalMs: parsed.logFlushIntervalMs }),
          ...(parsed.logMaxBufferedBytes === undefined ? {} : { maxBufferedBytes: parsed.logMaxBufferedBytes }),
        });
        if (empties) {
          const kept = await emptyFolderBut(backend, versionKey(name, folder), log);
          if (kept.length > 0) {
            this.logger.warning(
              `Kept ${kept.length} object(s) written into ${backend.describe(versionKey(name, folder))} by another process while ` +
                `it was being emptied for replace: ${kept.map((key) => key.slice(versionKey(name, folder).length + 1)).join(", ")}.`,
            );
          }
          await emptied();
        }
        break;
      } catch (error) {
        // The run does not start: its log is closed (as failed), and with `replace` the run's other ranks, waiting for
        // the folder to be emptied, stop waiting.
        await writer?.close({ status: "failed", exitCode: null, signal: null }).catch(() => {});
        if (empties) await abandoned().catch(() => {});
        // Another writer took the folder of the number "new" just claimed: the claim stays, unused, and the next
        // number is claimed. With a run id the run's other processes may be joining that version: the error stands,
        // and the run record is marked so that no process of the run joins it from now on.
        const taken = isOpenCrateError(error, "ALREADY_EXISTS") && error.path === backend.describe(log);
        if (taken && resolved.giveUp !== undefined) await this.#giveUp(resolved.giveUp, backend.describe(versionKey(name, folder)));
        if (!(taken && parsed.start === "new" && runId === undefined && attempt < NEW_VERSION_ATTEMPTS)) throw error;
      }
    }
    const { version, folder } = resolved;
    this.logger.attach(writer);
    const unregisterExit = registerForExit({
      flush: () => writer.flush(),
      flushForExit: (ending) => writer.flushForExit(ending),
      // From the exit hooks the process is ending: the last try.
      close: (ending) => writer.close(ending, { final: true }),
      closeSync: (ending, timeoutMs) => writer.closeSync(ending, timeoutMs),
      beginCloseSync: (ending, timeoutMs) => writer.beginCloseSync?.(ending, timeoutMs),
      get storesAtExit() {
        return writer.storesAtExit;
      },
      get linesWritten() {
        return writer.linesWritten;
      },
      reportCrash: (error, origin) => this.logger.crash(error, origin),
    });
    this.#run = { backend, name, version, tag, folder, readOnly: false, pythonConfig, writer, unregisterExit, recordKey, deletedMark };
    this.#closedAt = undefined;
    this.logger.debug(`Snapshot setup done for '${name}' with version '${folder}' at ${this.dirPath}.`);
    return this;
  }

  /** Marks the run's version given up; a failure only warns, beside the error that made the run give it up. */
  async #giveUp(giveUp: () => Promise<void>, folder: string): Promise<void> {
    try {
      await giveUp();
    } catch (error) {
      this.logger.warning(`Could not mark the run's record to keep its other processes out of ${folder}: ${(error as Error).message}`);
    }
  }

  /** Keeps a Python OpenCrate project's counter in step (see python-counter.ts); a failure only warns. */
  async #raisePythonCounter(config: string | undefined, name: string, version: number, backend: StorageBackend): Promise<void> {
    if (config === undefined) return;
    try {
      await raisePythonCounter(config, name, version, retryPolicyOf(backend));
    } catch (error) {
      this.logger.warning(
        `Could not record version ${version} of '${name}' in ${config} for Python OpenCrate: ${(error as Error).message}`,
      );
    }
  }

  get name(): string {
    return this.#active().name;
  }

  /** The version number, or "dev" for the scratch folder. */
  get version(): number | typeof DEV_VERSION {
    return this.#active().version;
  }

  get tag(): string | undefined {
    return this.#active().tag;
  }

  /** "v0" or "v0:initial-run". */
  get versionName(): string {
    return this.#active().folder;
  }

  /** The version folder: "snapshots/<name>/v0:initial-run", or the full URI on a cloud root. */
  get dirPath(): string {
    const run = this.#active();
    return run.backend.describe(versionKey(run.name, run.folder));
  }

  get readOnly(): boolean {
    return this.#active().readOnly;
  }

  /** The backend this snapshot stores on. */
  get backend(): StorageBackend {
    return this.#active().backend;
  }

  /** True once setup (or open) has succeeded and the run is not closed. */
  get isSetUp(): boolean {
    return this.#run !== undefined;
  }

  text(name: string, options?: ArtifactOptions): ArtifactOf<Builtins["text"]> {
    return this.#builtin("text", name, options);
  }

  /** `json<T>(name).load()` resolves to `T`: a type you assert for the file's content, not checked at run time. */
  json<T = unknown>(name: string, options?: ArtifactOptions): TypedLoadArtifact<Builtins["json"], T> {
    return this.#builtin("json", name, options) as TypedLoadArtifact<Builtins["json"], T>;
  }

  /** `yaml<T>(name).load()` resolves to `T`: a type you assert for the file's content, not checked at run time. */
  yaml<T = unknown>(name: string, options?: ArtifactOptions): TypedLoadArtifact<Builtins["yaml"], T> {
    return this.#builtin("yaml", name, options) as TypedLoadArtifact<Builtins["yaml"], T>;
  }

  csv(name: string, options?: ArtifactOptions): CsvArtifact {
    return this.#builtin("csv", name, options) as unknown as CsvArtifact;
  }

  image(name: string, options?: ArtifactOptions): ImageArtifact {
    return this.#builtin("image", name, options) as unknown as ImageArtifact;
  }

  gif(name: string, options?: ArtifactOptions): ArtifactOf<Builtins["gif"]> {
    return this.#builtin("gif", name, options);
  }

  video(name: string, options?: ArtifactOptions): ArtifactOf<Builtins["video"]> {
    return this.#builtin("video", name, options);
  }

  /** `.wav` loads decoded (`{ channels, sampleRate, duration }`); other extensions load as bytes. */
  audio<Name extends string>(name: Name, options?: ArtifactOptions): AudioArtifact<Name> {
    return this.#builtin("audio", name, options) as unknown as AudioArtifact<Name>;
  }

  /** `.safetensors` loads as the nested object; other extensions load as bytes. */
  checkpoint<Name extends string>(name: Name, options?: ArtifactOptions): CheckpointArtifact<Name> {
    return this.#builtin("checkpoint", name, options) as unknown as CheckpointArtifact<Name>;
  }

  /** An artifact of a custom type, stored under `<type>/<name>` and saved and loaded by `handler`. */
  artifact<H extends CustomHandler>(
    type: string,
    name: string,
    options: { handler: CustomHandlerClass<H>; verbose?: boolean },
  ): CustomArtifact<H> {
    const validType = validateTypeName(type, BUILTIN_TYPES.map((builtin) => typeFolder(builtin)));
    if (isBuiltinType(validType)) {
      throw new InvalidArgumentError(
        `'${validType}' is a built-in type; use snapshot.${validType}(name) or pick another name for the custom type.`,
      );
    }
    validateHandlerClass(options?.handler, validType);
    const run = this.#active();
    refuseRunLogType(validType, run.name);
    const key = this.#artifactKey(run, validType, name);
    const instance = new options.handler();
    const artifact = new Artifact({
      backend: run.backend,
      key,
      name,
      snapshotType: validType,
      handler: adaptCustomHandler(instance, validType),
      verbose: options.verbose ?? false,
      readOnly: run.readOnly,
      log: this.logger,
      folderLike: true,
      checkName: this.#nameCheck(run, validType, name, key),
      checkVersion: this.#versionCheck(run),
    });
    const attachments: HandlerAttachments = {
      path: artifact.path,
      name,
      snapshotType: validType,
      verbose: artifact.verbose,
      storage: artifact.storage,
    };
    Object.assign(instance, attachments);
    exposeHandlerMethods(artifact, instance);
    return artifact as unknown as CustomArtifact<H>;
  }

  /**
   * Every version folder of this name (whoever wrote it) and every claimed version with no folder yet: "dev"
   * folders first, then ascending by number; a number's folders with the one it was created with first and
   * siblings made by resuming after it, so the last entry is what `@latest` opens. Entries of a number carry how
   * its latest run did where it left run records.
   */
  async listVersions(): Promise<VersionInfo[]> {
    const run = this.#active();
    await this.#storeOwnRecord(run);
    const [entries, summaries] = await Promise.all([
      new VersionStore(run.backend, run.name).listVersions(),
      summarizeRuns(run.backend, run.name, (record) => record.version),
    ]);
    return entries.map((entry) => toVersionInfo(entry, entry.version === DEV_VERSION ? undefined : summaries.get(entry.version)));
  }

  /** The run records of this version's folder (each run, each rank), oldest first. */
  async runs(): Promise<RunRecord[]> {
    const run = this.#active();
    await this.#storeOwnRecord(run);
    const records = await listRunRecords(run.backend, run.name, run.version === DEV_VERSION ? -1 : run.version);
    return records.filter((record) => record.versionName === run.folder);
  }

  /** This run's record is written a second after setup or at the first flush: a run reading records sees its own. */
  async #storeOwnRecord(run: ActiveRun): Promise<void> {
    // A flush that fails keeps its lines queued; the listing goes on without this run's record.
    await run.writer?.flush().catch(() => undefined);
  }

  /** Sorted unique tags of this name's version folders and claims ("dev:<tag>" folders included). */
  async listTags(): Promise<string[]> {
    const run = this.#active();
    const tags = new Set<string>();
    for (const entry of await new VersionStore(run.backend, run.name).listVersions()) {
      if (entry.tag !== undefined) tags.add(entry.tag);
      if (entry.claim?.tag !== undefined) tags.add(entry.claim.tag);
    }
    return [...tags].sort();
  }

  /**
   * Deletes every version of this name (and its bookkeeping), nothing else: other files and folders under the name
   * stay. A version that cannot be deleted whole (on local disk, one reached through a link) is refused before any
   * is deleted, and so is a name where another run is still going, unless `evenIfRunning`. The snapshot is no longer
   * set up.
   */
  async reset(options: { confirm?: boolean; evenIfRunning?: boolean } = {}): Promise<void> {
    const run = this.#active();
    const where = run.backend.describe(nameKey(run.name));
    if (options.confirm !== true) {
      throw new ConfirmationRequiredError(
        `reset() deletes every version of '${run.name}' at ${where}; call reset({ confirm: true }) to do it.`,
        { path: where },
      );
    }
    if (run.readOnly) {
      throw new ReadOnlyError(`Cannot reset ${where}: the snapshot is open read-only.`, { path: where });
    }
    if (options.evenIfRunning !== true) await refuseResetWhileRunning(run.backend, run.name, run.recordKey);
    await this.close();
    this.#closedAt = undefined; // deleted, not closed: the plain "not set up" message fits
    const backend = run.backend;
    const prefix = `${nameKey(run.name)}/`;
    // The folders to delete from one delimited listing, where a name that is not UTF-8 (no version) is left out;
    // then the files of each, whose listing fails on such a name rather than leave it behind.
    const folders: string[] = [];
    let pageToken: string | undefined;
    do {
      const page = await backend.listPage(prefix, pageToken === undefined ? { notUtf8: "skip" } : { pageToken, notUtf8: "skip" });
      for (const folderPrefix of page.prefixes) {
        const folder = folderPrefix.slice(prefix.length, -1);
        if (isResetFolder(folder)) folders.push(folder);
      }
      pageToken = page.nextPageToken;
    } while (pageToken !== undefined);
    const listed: ObjectInfo[] = [];
    for (const folder of folders) for await (const info of backend.list(`${prefix}${folder}/`)) listed.push(info);
    const { objects, abandonedTemps } = sortListedTemps(listed, Date.now());
    for (const folder of folders) await backend.checkDeletable?.(`${prefix}${folder}/`);
    await backend.deleteMany(objects.map((info) => info.key));
    if (abandonedTemps.length > 0) await backend.deleteTemps?.(abandonedTemps);
    // Temp files on local disk are never listed, so the deletes above leave them (and their folders).
    await backend.removeLeftovers?.(prefix, { inFolder: isResetFolder });
    // Else "new" would go on numbering after Python's counter: numbering restarts at v0 for both tools.
    if (run.pythonConfig !== undefined) {
      await forgetPythonCounter(run.pythonConfig, run.name, retryPolicyOf(backend)).catch((error: unknown) => {
        this.logger.warning(
          `Could not remove the counter of '${run.name}' from ${run.pythonConfig} for Python OpenCrate: ${(error as Error).message}`,
        );
      });
    }
  }

  /** Writes buffered log lines now; after a failed close(), tries that close again. */
  async flush(): Promise<void> {
    if (this.#unclosed !== undefined) await this.close();
    else await this.logger.flush();
  }

  /**
   * Flushes and closes this run's logs. The snapshot is no longer set up. Lines logged from now until the next
   * setup() belong to no run: they are shown on the console but not stored (the closed log drops them, with one
   * OPENCRATE_LOG_CLOSED warning).
   */
  async close(): Promise<void> {
    const run = this.#run ?? this.#unclosed;
    this.#run = undefined;
    if (run === undefined) return;
    this.#closedAt = run.backend.describe(versionKey(run.name, run.folder));
    if (run.writer === undefined) return;
    // The logger stays attached to the closed log rather than keeping later lines for the next setup, whose run
    // they are not part of.
    // Closed by the application, before the process ends: finished, with no exit code yet. The exit hooks stay
    // registered until the close has succeeded: a process that ends while it runs (process.exit, a signal, an
    // uncaught error), or after it failed, still stores the last lines and the final record (or says on stderr
    // that it could not). A failed close keeps the lines: the next close() tries again.
    this.#unclosed = run;
    await run.writer.close({ status: "finished", exitCode: null, signal: null });
    if (this.#unclosed === run) this.#unclosed = undefined;
    run.unregisterExit?.();
  }

  protected logAt(level: LogLevelName, parts: unknown[]): void {
    this.logger[level](...parts);
  }

  /** Logs at ERROR, followed by the error's stack. */
  exception(message: string, error?: unknown): void {
    this.logger.exception(message, error);
  }

  #builtin<T extends keyof Builtins & string>(type: T, name: string, options: ArtifactOptions = {}): ArtifactOf<Builtins[T]> {
    const run = this.#active();
    const handler = builtinHandlers[type] as ArtifactHandler<unknown, unknown, unknown, unknown>;
    const key = this.#artifactKey(run, type, name);
    return new Artifact({
      backend: run.backend,
      key,
      checkName: this.#nameCheck(run, type, name, key),
      checkVersion: this.#versionCheck(run),
      name,
      snapshotType: type,
      handler,
      verbose: options.verbose ?? false,
      readOnly: run.readOnly,
      log: this.logger,
    }) as unknown as ArtifactOf<Builtins[T]>;
  }

  #artifactKey(run: ActiveRun, type: string, name: string): string {
    if (typeof name !== "string") {
      throw new InvalidArgumentError(`An artifact name must be a string, got ${typeof name}.`);
    }
    try {
      validateKey(name);
    } catch (error) {
      throw new InvalidArgumentError(
        `Invalid ${type} artifact name ${JSON.stringify(name)} in ${this.dirPath}: names are relative paths without ` +
          `'..', '.', empty segments or a leading '/'.`,
        { path: name, cause: error },
      );
    }
    return artifactKey(run.name, run.folder, type, name);
  }

  /**
   * The rules of artifact names checked when the artifact is written (names.ts): no bookkeeping name that the
   * listings leave out, and the length.
   */
  #nameCheck(run: ActiveRun, type: string, name: string, key: string): () => void {
    const where = this.dirPath;
    return () => {
      refuseBookkeepingArtifactName(name, type, where);
      checkArtifactNameLength(name, type, key, keyBytesLimit(run.backend), where);
    };
  }

  /**
   * Throws once the run's version was found deleted under it by another process (VersionDeletedMark): a save then
   * could land in a new run's version of that number. Else lets the run's record be refreshed (RunSink.touch), whose
   * write finds that out for a run that saves without logging.
   */
  #versionCheck(run: ActiveRun): () => void {
    const mark = run.deletedMark;
    if (mark === undefined) return () => {};
    const where = this.dirPath;
    return () => {
      if (!mark.isSet) {
        run.writer?.touch();
        return;
      }
      throw new PreconditionFailedError(
        `Version ${run.folder} of '${run.name}' (${where}) was deleted by another process (reset()) while this run was ` +
          "writing it, and its number may hold a new run's version by now: this run writes nothing more there. " +
          "Set up a new run to save.",
        { path: where },
      );
    };
  }

  #active(): ActiveRun {
    if (this.#run === undefined && this.#closedAt !== undefined) {
      throw new NotSetUpError(
        `The snapshot at ${this.#closedAt} was closed (close() ends the run): call setup() again to write more.`,
        { path: this.#closedAt },
      );
    }
    if (this.#run === undefined) {
      throw new NotSetUpError(
        "The snapshot is not set up: call `await oc.snapshot.setup({ name })` (or Snapshot.setup / Snapshot.open) first.",
      );
    }
    return this.#run;
  }
}

function toVersionInfo(entry: VersionEntry, summary: RunSummary | undefined): VersionInfo {
  return {
    version: entry.version,
    tag: entry.tag,
    versionName: entry.folder,
    createdAt: entry.claim?.createdAt || undefined,
    ...(entry.claim?.runId === undefined ? {} : { runId: entry.claim.runId }),
    claimed: entry.claim !== undefined,
    hasFolder: entry.hasFolder,
    ...(summary === undefined ? {} : runFields(summary)),
  };
}

/** A run summary as optional VersionInfo fields (nulls left out). */
function runFields(summary: RunSummary): Pick<VersionInfo, "status" | "endedAt" | "exitCode" | "signal" | "lastSeen"> {
  return {
    status: summary.status,
    lastSeen: summary.lastSeen,
    ...(summary.endedAt === null ? {} : { endedAt: summary.endedAt }),
    ...(summary.exitCode === null ? {} : { exitCode: summary.exitCode }),
    ...(summary.signal === null ? {} : { signal: summary.signal }),
  };
}

/** Whether an error's `path` is an environment variable's name (as errors about a variable's value give it). */
function isVariableName(path: string | undefined): boolean {
  return path !== undefined && /^[A-Z][A-Z0-9_]*$/.test(path);
}

/** The backend `setup` uses: the one given (behind the checking layer), else the root's, else OPENCRATE_ROOT's. */
function backendOf(options: SetupOptions): StorageBackend {
  if (options.backend !== undefined) return checkedBackend(options.backend);
  if (options.root !== undefined) return backendFromUri(options.root);
  const fromEnv = process.env.OPENCRATE_ROOT;
  if (fromEnv === undefined || fromEnv === "") return backendFromUri(DEFAULT_ROOT);
  try {
    return backendFromUri(fromEnv);
  } catch (error) {
    // An error about another environment variable (AWS_ENDPOINT_URL_S3, STORAGE_EMULATOR_HOST) names it already.
    if (!isOpenCrateError(error, "INVALID_ARGUMENT") || isVariableName(error.path)) throw error;
    throw new InvalidArgumentError(`OPENCRATE_ROOT: ${error.message}`, { path: error.path, cause: error });
  }
}

/**
 * Empties a version folder for `replace: true`, keeping `keepKey` (the new run's `.log`, already written): the
 * folder always holds that log, so a crash half-way leaves a folder that still opens and lists. Each object is
 * deleted at the revision the listing gave (deleteListed): one written since is another process's (the new run
 * writes nothing before this returns), so it is kept, and its key returned, rather than lost; and a delete that
 * reaches the store late, after the new run saved at that key, deletes nothing.
 */
async function emptyFolderBut(backend: StorageBackend, folderKey: string, keepKey: string): Promise<string[]> {
  const listed: ObjectInfo[] = [];
  for await (const info of backend.list(`${folderKey}/`)) if (info.key !== keepKey) listed.push(info);
  const { objects, abandonedTemps } = sortListedTemps(listed, Date.now());
  const kept = await deleteListed(backend, objects);
  if (abandonedTemps.length > 0) await backend.deleteTemps?.(abandonedTemps).catch(() => {});
  // Temp files on local disk are never listed, so the deletes above leave them.
  await backend.removeLeftovers?.(`${folderKey}/`).catch(() => {});
  return kept;
}
