/** The messages between a run's main thread and its log-writer thread (sink-thread.ts ↔ sink-worker.ts). */
import {
  AlreadyExistsError,
  ConfirmationRequiredError,
  CorruptDataError,
  InvalidArgumentError,
  NotFoundError,
  NotSetUpError,
  NotSupportedError,
  OpenCrateError,
  PermissionDeniedError,
  PreconditionFailedError,
  ReadOnlyError,
  TransientError,
  type ErrorCode,
} from "../errors.ts";
import type { BackendRecipe } from "./backend-recipe.ts";
import type { RunEnding } from "./run-record.ts";
import type { RunWriterOptions, StartedRun } from "./run-writer.ts";

/**
 * One thread serves every run of the process (see writer-thread.ts); each run's messages carry its sink number.
 * Every request gets one "done" answer with its id ("open" also returns the `.log` path). The thread takes a run
 * over as it receives "open", before reading the next message, so lines and "close" may follow without waiting.
 */
export type ToWorker =
  | {
      readonly type: "open";
      readonly id: number;
      readonly sink: number;
      readonly recipe: BackendRecipe;
      readonly options: RunWriterOptions;
      /** The run as the main thread started it: the thread goes on from there, without writing anything first. */
      readonly started: StartedRun;
    }
  | { readonly type: "lines"; readonly sink: number; readonly text: string }
  /** The run saved something: its record is refreshed unless it was written a moment ago (no answer). */
  | { readonly type: "touch"; readonly sink: number }
  | { readonly type: "flush"; readonly id: number; readonly sink: number }
  | {
      readonly type: "close";
      readonly id: number;
      readonly sink: number;
      readonly ending: RunEnding;
      /** The last try (the process is ending): the run is ended and let go even when its lines cannot be stored. */
      readonly final: boolean;
      /**
       * With `final`: until then (milliseconds since the epoch) a failed close is tried again, with the backend's
       * retry policy's waits, before the last try.
       */
      readonly retryUntil?: number;
      /**
       * Int32 slot 0 turns CLOSE_STORED or CLOSE_FAILED once this close has finished, whatever happened (the main
       * thread may be blocked waiting, unable to receive the answer). After CLOSE_FAILED of a close that was not
       * final the thread keeps the run, lines and all, for another "close".
       */
      readonly closed: SharedArrayBuffer;
    };

export const CLOSE_PENDING = 0;
export const CLOSE_STORED = 1;
export const CLOSE_FAILED = 2;

export interface FromWorker {
  readonly type: "done";
  readonly id: number;
  readonly path?: string;
  readonly error?: SentError;
}

/** An error as it crosses threads (structured cloning drops an OpenCrateError's class and code). */
export interface SentError {
  readonly message: string;
  readonly code?: string;
  readonly path?: string;
}

export function sendError(error: unknown): SentError {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, path } = error as { code?: unknown; path?: unknown };
  return {
    message: error.message,
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof path === "string" ? { path } : {}),
  };
}

type ErrorClass = new (message: string, options?: { path?: string }) => OpenCrateError;

const CLASS_BY_CODE: Partial<Record<ErrorCode, ErrorClass>> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  NOT_SET_UP: NotSetUpError,
  CONFIRMATION_REQUIRED: ConfirmationRequiredError,
  READ_ONLY: ReadOnlyError,
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  PRECONDITION_FAILED: PreconditionFailedError,
  PERMISSION_DENIED: PermissionDeniedError,
  NOT_SUPPORTED: NotSupportedError,
  CORRUPT_DATA: CorruptDataError,
  TRANSIENT: TransientError,
};

/** The error again, as the class its code names (a TransientError when it had none). */
export function receiveError(sent: SentError): OpenCrateError {
  const ErrorOfCode = (sent.code === undefined ? undefined : CLASS_BY_CODE[sent.code as ErrorCode]) ?? TransientError;
  return new ErrorOfCode(sent.message, sent.path === undefined ? {} : { path: sent.path });
}
