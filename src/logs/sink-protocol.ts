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
import type { RunWriterOptions } from "./run-writer.ts";

export interface SinkWorkerData {
  readonly recipe: BackendRecipe;
  readonly options: RunWriterOptions;
  /** Int32 slot 0 turns 1 once the final close has finished (the main thread may be blocked waiting for it). */
  readonly closed: SharedArrayBuffer;
}

export type ToWorker =
  | { readonly type: "lines"; readonly text: string }
  | { readonly type: "flush"; readonly id: number }
  | { readonly type: "close"; readonly id: number; readonly ending: RunEnding };

export type FromWorker =
  | { readonly type: "started"; readonly path: string }
  | { readonly type: "start-failed"; readonly error: SentError }
  | { readonly type: "done"; readonly id: number; readonly error?: SentError };

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
