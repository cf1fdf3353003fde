/** A versioned snapshot of one pipeline run: its version, folder, logs and artifacts. */
import type { StorageBackend } from "../backends/backend.ts";
import { validateKey } from "../backends/keys.ts";
import { objectExists } from "../backends/presence.ts";
import { backendFromUri } from "../backends/registry.ts";
import { checkedBackend } from "../backends/layers/checked.ts";
import {
  ConfirmationRequiredError,
  InvalidArgumentError,
  isOpenCrateError,
  NotSetUpError,
  ReadOnlyError,
  VersionNotFoundError,
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
import { parseLogLevel, type LogLevelOption } from "../logs/levels.ts";
import { RunLogger } from "../logs/logger.ts";
import type { RunRecord, RunStatus } from "../logs/run-record.ts";
import { startRunSink } from "../logs/run-sink.ts";
import type { RunSink } from "../logs/sink.ts";
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
  historyKey,
  isBuiltinType,
  logKey,
  nameKey,
  typeFolder,
  versionFolderName,
  versionKey,
} from "./layout.ts";
import { DEFAULT_ROOT } from "./default-root.ts";
import { gitState } from "./git-state.ts";
import { parseStart, validateSnapshotName, validateTag, validateTypeName, type StartInput, type StartOption } from "./names.ts";
import { rankWithoutRunIdWarning, resolveRank, resolveRunId } from "./run-env.ts";
import { listRunRecords, summarizeRuns, type RunSummary } from "./run-records.ts";
import { firstRunRecord } from "./run-start.ts";
import { VersionStore, type VersionClaim } from "./versions.ts";

export interface SetupOptions {
  /** `[A-Za-z0-9._-]{1,128}`, not "." or "..". */
  readonly name: string;
  /** "new" (default), "last", a non-negative integer or a string of digits. */
  readonly start?: StartInput;
  /** `[A-Za-z0-9._-]{1,64}`; "" means none. */
  readonly tag?: string;
  /** debug, info, success, warning, error, critical (any case). Default: env OPENCRATE_LOG_LEVEL, else info. */
  readonly logLevel?: LogLevelOption;
  /** A local path or URI. Default: env OPENCRATE_ROOT, else "snapshots". */
  readonly root?: string;
  /** Overrides the backend `root` implies. */
  readonly backend?: StorageBackend;
  /** Ranks of one job that share it share one version. Default: env OPENCRATE_RUN_ID, then TORCHELASTIC_RUN_ID. */
  readonly runId?: string;
  /** Echo log lines to stdout. Default true. */
  readonly console?: boolean;
  /** How often buffered log lines are written (ms). Default 1000. */
  readonly logFlushIntervalMs?: number;
}

export interface VersionInfo {
  readonly version: number;
  readonly tag: string | undefined;
  readonly versionName: string;
  readonly createdAt: string;
  readonly runId?: string;
  /** From the run records of the version's latest run (absent for versions written without them). */
  readonly status?: RunStatus;
  readonly endedAt?: string;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly lastSeen?: string;
}

interface ActiveRun {
  readonly backend: StorageBackend;
  readonly name: string;
  readonly version: number;
  readonly tag: string | undefined;
  readonly folder: string;
  readonly readOnly: boolean;
  readonly writer: RunSink | undefined;
  readonly unregisterExit: (() => void) | undefined;
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

export class Snapshot {
  /** This snapshot's logger: console always, the version's log objects once set up. */
  readonly logger: RunLogger;
  #run: ActiveRun | undefined;
  /** Where the last run was when close() ended it, for the error of a later call; cleared by setup. */
  #closedAt: string | undefined;

  constructor(options: { console?: boolean } = {}) {
    this.logger = new RunLogger({ console: options.console ?? true });
  }

  /** Creates a snapshot and sets it up. */
  static async setup(options: SetupOptions): Promise<Snapshot> {
    const snapshot = new Snapshot({ console: options.console ?? true });
    await snapshot.setup(options);
    return snapshot;
  }

  /** Opens an existing snapshot read-only (see API.md "Pulling by URI"). */
  static async open(uri: string): Promise<Snapshot> {
    const { openSnapshot } = await import("./open.ts");
    const target = await openSnapshot(uri);
    const snapshot = new Snapshot({ console: false });
    snapshot.#run = { ...target, readOnly: true, writer: undefined, unregisterExit: undefined };
    return snapshot;
  }

  /**
   * Resolves the version (claiming a new number with a create-only write for "new"), then starts this run's
   * logs. A second setup on the same object closes the previous run first.
   */
  async setup(options: SetupOptions): Promise<this> {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError("setup() takes an options object, as in setup({ name: \"train\" }).");
    }
    const name = validateSnapshotName(options.name);
    const start = parseStart(options.start);
    const tag = validateTag(options.tag);
    const level =
      options.logLevel === undefined
        ? parseLogLevel(process.env.OPENCRATE_LOG_LEVEL || "info", "OPENCRATE_LOG_LEVEL")
        : parseLogLevel(options.logLevel, "logLevel");
    const runId = resolveRunId(options.runId);
    const rank = resolveRank();
    exitFlushTimeoutFromEnv(); // a malformed OPENCRATE_EXIT_FLUSH_MS fails here, before anything is written
    const backend = backendOf(options);
    if (options.logFlushIntervalMs !== undefined && !(options.logFlushIntervalMs > 0)) {
      throw new InvalidArgumentError(`logFlushIntervalMs must be a positive number, got ${options.logFlushIntervalMs}.`);
    }

    await this.close();
    this.logger.setLevel(level);
    this.logger.setConsole(options.console ?? true);
    const startedAt = new Date();
    const git = gitState();
    const rankWarning = rankWithoutRunIdWarning(runId);
    if (rankWarning !== undefined) this.logger.warning(rankWarning);

    const { claim, resumed } = await this.#resolveVersion(backend, name, start, tag, runId, rank);
    const folder = versionFolderName(claim.version, tag);
    if (resumed && claim.tag !== tag) {
      this.logger.warning(
        `Version ${claim.version} of '${name}' was created as '${versionFolderName(claim.version, claim.tag)}'; ` +
          `resuming it with ${tag === undefined ? "no tag" : `tag '${tag}'`} uses the sibling folder '${folder}' ` +
          `(${backend.describe(versionKey(name, versionFolderName(claim.version, claim.tag)))} is untouched).`,
      );
    }

    const log = logKey(name, folder, rank);
    const { key: recordKey, record } = firstRunRecord({
      name,
      version: claim.version,
      versionName: folder,
      log: log.slice(versionKey(name, folder).length + 1),
      runId,
      rank,
      startedAt,
      git: await git,
    });
    const writer = await startRunSink(backend, {
      logKey: log,
      historyKey: historyKey(name, folder, rank),
      resume: resumed,
      recordKey,
      record,
      ...(options.logFlushIntervalMs === undefined ? {} : { flushIntervalMs: options.logFlushIntervalMs }),
    });
    this.logger.attach(writer);
    const unregisterExit = registerForExit({
      flush: () => writer.flush(),
      close: (ending) => writer.close(ending),
      closeSync: (ending, timeoutMs) => writer.closeSync(ending, timeoutMs),
      storesAtExit: writer.storesAtExit,
      reportCrash: (error, origin) => this.logger.crash(error, origin),
    });
    this.#run = { backend, name, version: claim.version, tag, folder, readOnly: false, writer, unregisterExit };
    this.#closedAt = undefined;
    this.logger.debug(`Snapshot setup done for '${name}' with version '${folder}' at ${this.dirPath}.`);
    return this;
  }

  get name(): string {
    return this.#active().name;
  }

  get version(): number {
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

  /** Every version of this name, ascending, with how its latest run did where it left run records. */
  async listVersions(): Promise<VersionInfo[]> {
    const run = this.#active();
    const [claims, summaries] = await Promise.all([
      new VersionStore(run.backend, run.name).listClaims(),
      summarizeRuns(run.backend, run.name, (record) => record.version),
    ]);
    return claims.map((claim) => toVersionInfo(claim, summaries.get(claim.version)));
  }

  /** The run records of this version's folder (each run, each rank), oldest first. */
  async runs(): Promise<RunRecord[]> {
    const run = this.#active();
    const records = await listRunRecords(run.backend, run.name, run.version);
    return records.filter((record) => record.versionName === run.folder);
  }

  /** Sorted unique tags of this name's versions (including sibling folders made by resuming with another tag). */
  async listTags(): Promise<string[]> {
    const run = this.#active();
    const store = new VersionStore(run.backend, run.name);
    const tags = new Set<string>();
    for (const claim of await store.listClaims()) {
      if (claim.tag !== undefined) tags.add(claim.tag);
    }
    for (const folder of await store.listFolders()) {
      if (folder.tag !== undefined) tags.add(folder.tag);
    }
    return [...tags].sort();
  }

  /** Deletes every version of this name (and its bookkeeping), nothing else. The snapshot is no longer set up. */
  async reset(options: { confirm?: boolean } = {}): Promise<void> {
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
    await this.close();
    this.#closedAt = undefined; // deleted, not closed: the plain "not set up" message fits
    const backend = run.backend;
    await backend.deleteMany(
      (async function* () {
        for await (const info of backend.list(`${nameKey(run.name)}/`)) yield info.key;
      })(),
    );
  }

  /** Writes buffered log lines now. */
  async flush(): Promise<void> {
    await this.logger.flush();
  }

  /** Flushes and closes this run's logs. The snapshot is no longer set up. */
  async close(): Promise<void> {
    const run = this.#run;
    this.#run = undefined;
    if (run !== undefined) this.#closedAt = run.backend.describe(versionKey(run.name, run.folder));
    if (run?.writer === undefined) return;
    run.unregisterExit?.();
    this.logger.detach();
    // Closed by the application, before the process ends: finished, with no exit code yet.
    await run.writer.close({ status: "finished", exitCode: null, signal: null });
  }

  debug(...parts: unknown[]): void {
    this.logger.debug(...parts);
  }

  info(...parts: unknown[]): void {
    this.logger.info(...parts);
  }

  success(...parts: unknown[]): void {
    this.logger.success(...parts);
  }

  warning(...parts: unknown[]): void {
    this.logger.warning(...parts);
  }

  error(...parts: unknown[]): void {
    this.logger.error(...parts);
  }

  critical(...parts: unknown[]): void {
    this.logger.critical(...parts);
  }

  /** Logs at ERROR, followed by the error's stack. */
  exception(message: string, error?: unknown): void {
    this.logger.exception(message, error);
  }

  async #resolveVersion(
    backend: StorageBackend,
    name: string,
    start: StartOption,
    tag: string | undefined,
    runId: string | undefined,
    rank: number | undefined,
  ): Promise<{ claim: VersionClaim; resumed: boolean }> {
    const store = new VersionStore(backend, name);
    if (start === "new") {
      if (runId === undefined) return { claim: await store.allocateNew({ tag, runId }), resumed: false };
      const { claim, created } = await store.allocateForRun(runId, { tag, runId });
      // A rank joining its job's fresh version starts its own log; a restarted rank (same run id, log already
      // there, as after a torchrun elastic restart) resumes it so the earlier lines move into the history.
      const ownLog = logKey(name, versionFolderName(claim.version, tag), rank);
      return { claim, resumed: !created && (await objectExists(backend, ownLog)) };
    }
    if (start === "last") {
      const highest = await store.highest();
      const existing = highest === undefined ? undefined : await store.readClaim(highest);
      if (existing !== undefined) return { claim: existing, resumed: true };
      const { claim, created } = await store.claimOrJoin(0, { tag, runId });
      if (created) {
        this.logger.warning(`No version of '${name}' exists at ${backend.describe(nameKey(name))}; created v0.`);
      }
      return { claim, resumed: !created };
    }
    const claim = await store.readClaim(start);
    if (claim === undefined) {
      const available = await store.listVersionNumbers();
      const listed = available.length === 0 ? "none exist yet" : `existing: ${available.map((v) => `v${v}`).join(", ")}`;
      throw new VersionNotFoundError(
        `Version ${start} of '${name}' does not exist at ${backend.describe(nameKey(name))} (${listed}).`,
        available,
        { path: backend.describe(nameKey(name)) },
      );
    }
    return { claim, resumed: true };
  }

  #builtin<T extends keyof Builtins & string>(type: T, name: string, options: ArtifactOptions = {}): ArtifactOf<Builtins[T]> {
    const run = this.#active();
    const handler = builtinHandlers[type] as ArtifactHandler<unknown, unknown, unknown, unknown>;
    return new Artifact({
      backend: run.backend,
      key: this.#artifactKey(run, type, name),
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

function toVersionInfo(claim: VersionClaim, summary: RunSummary | undefined): VersionInfo {
  return {
    version: claim.version,
    tag: claim.tag,
    versionName: versionFolderName(claim.version, claim.tag),
    createdAt: claim.createdAt,
    ...(claim.runId === undefined ? {} : { runId: claim.runId }),
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

/** The backend `setup` uses: the one given (behind the checking layer), else the root's, else OPENCRATE_ROOT's. */
function backendOf(options: SetupOptions): StorageBackend {
  if (options.backend !== undefined) return checkedBackend(options.backend);
  if (options.root !== undefined) return backendFromUri(options.root);
  const fromEnv = process.env.OPENCRATE_ROOT;
  if (fromEnv === undefined || fromEnv === "") return backendFromUri(DEFAULT_ROOT);
  try {
    return backendFromUri(fromEnv);
  } catch (error) {
    if (!isOpenCrateError(error, "INVALID_ARGUMENT")) throw error;
    throw new InvalidArgumentError(`OPENCRATE_ROOT: ${error.message}`, { path: error.path, cause: error });
  }
}
