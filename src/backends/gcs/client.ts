/**
 * Loads @google-cloud/storage on first use and builds the one Storage client a backend uses. Downloads do not
 * use the SDK's retry (see media-request.ts); everything else does.
 *
 * Retry policy (IdempotencyStrategy.RetryAlways): the SDK may retry every request, conditional writes included.
 * A retried conditional write is never trusted blindly: each one carries a writer token in its custom metadata
 * (`oc-token`), and a 412 or an ambiguous failure is settled by reading the object back (see upload.ts). A
 * retried precondition can only fail, never overwrite someone else's object, so the retry itself is safe; only
 * the meaning of its 412 needs checking. RetryAlways also keeps the SDK from flipping its shared `autoRetry`
 * flag per call, which under the other strategies races between concurrent calls on one client.
 */
import type { Agent } from "node:http";
import type { Storage, StorageOptions } from "@google-cloud/storage";
import { lazyOptionalPackage } from "../../optional-package.ts";
import { watchedCredentials } from "../credentials-failure.ts";
import type { RetryPolicy } from "../retry-policy.ts";
import type { GcsSettings } from "./options.ts";
import { agentWithTimeouts, TIMEOUT_HEADER, timeoutHeaderValue, watchMarkedRequests } from "./socket-timeouts.ts";

type StorageModule = typeof import("@google-cloud/storage");
type Interceptor = NonNullable<StorageOptions["interceptors_"]>[number];
type InterceptedRequest = ReturnType<Interceptor["request"]>;

export const loadStorageSdk: (root: string) => Promise<StorageModule> = lazyOptionalPackage(
  "@google-cloud/storage",
  "gs:// locations",
  () => import("@google-cloud/storage"),
);

/** Socket time-outs (socket-timeouts.ts) and the SDK's own name for one. */
const TIMEOUT_CODES: ReadonlySet<string> = new Set(["ETIMEDOUT", "ECONNTIMEOUT", "ESOCKETTIMEDOUT"]);

export interface GcsClient {
  readonly storage: Storage;
  /**
   * Keep-alive agent with connect and idle time-outs, for the requests the backend sends itself (resumable
   * chunks, downloads).
   */
  readonly agent: Agent;
  /** Releases the sockets of `agent`. */
  release(): void;
}

/** `root` (the backend's URI) is named when the SDK is missing. */
export async function createStorage(settings: GcsSettings, root: string): Promise<GcsClient> {
  const { Storage, IdempotencyStrategy, RETRYABLE_ERR_FN_DEFAULT } = await loadStorageSdk(root);
  const timeouts = { connectMs: settings.connectTimeoutMs, idleMs: settings.requestTimeoutMs };
  watchMarkedRequests();
  const agent: Agent = agentWithTimeouts(settings.endpoint, timeouts);
  const storage = new Storage({
    apiEndpoint: settings.endpoint,
    ...(settings.projectId === undefined ? {} : { projectId: settings.projectId }),
    useAuthWithCustomEndpoint: settings.customEndpoint && settings.authenticate,
    // Ignored by the SDK's HTTP stack today (see socket-timeouts.ts); kept for when it is honoured again.
    timeout: settings.requestTimeoutMs,
    // Every request the SDK sends (JSON API calls and resumable sessions alike) asks for the time-outs.
    interceptors_: [
      {
        request: (options) =>
          ({ ...options, headers: withHeader(options.headers, TIMEOUT_HEADER, timeoutHeaderValue(timeouts)) }) as InterceptedRequest,
      },
    ],
    retryOptions: sdkRetryOptions(settings.retry, { IdempotencyStrategy, RETRYABLE_ERR_FN_DEFAULT }),
  });
  // The SDK uses STORAGE_EMULATOR_HOST verbatim as the JSON API base (without "/storage/v1") even when an
  // apiEndpoint is given, while uploads use apiEndpoint: one of the two paths is always wrong. The settings
  // already turned the variable into `endpoint`, so both paths get the same base here.
  storage.baseUrl = `${settings.endpoint}/storage/v1`;
  watchCredentials(storage);
  return { storage, agent, release: () => agent.destroy() };
}

/**
 * Marks what getting the credentials throws (a token file that cannot be read, Google's token service out of
 * reach), so errors.ts tells it from the store's failures: every request, the SDK's and this backend's own
 * (authorize.ts), is authorized through the auth client's authorizeRequest.
 */
function watchCredentials(storage: Storage): void {
  const auth = storage.authClient;
  if (typeof auth.authorizeRequest !== "function") return;
  auth.authorizeRequest = watchedCredentials(auth.authorizeRequest.bind(auth));
}

/**
 * The SDK's retry settings, from the backend's policy: as many tries, waits doubling up to the policy's cap. The SDK
 * has no base delay or jitter setting of its own (its waits start at 1 s plus up to 1 s of jitter).
 */
export function sdkRetryOptions(
  policy: RetryPolicy,
  sdk: Pick<StorageModule, "IdempotencyStrategy" | "RETRYABLE_ERR_FN_DEFAULT">,
): NonNullable<StorageOptions["retryOptions"]> {
  return {
    // maxRetries 0 reads as "default (3)" in the SDK; autoRetry false is how to say none.
    autoRetry: policy.attempts > 1,
    maxRetries: Math.max(policy.attempts - 1, 1),
    retryDelayMultiplier: 2,
    // The SDK refuses a cap below its first wait of 1 s ("minTimeout is greater than maxTimeout") on every upload.
    maxRetryDelay: Math.max(policy.maxDelayMs, 1000) / 1000,
    // Retries are bounded by count. The total must stay far above (retries + 1) × the time-outs: the JSON
    // path's retry-request never calls back once the total is spent between two attempts (it hangs), and
    // resumable uploads refuse any retry once the total has passed since the upload began.
    totalTimeout: 24 * 60 * 60,
    idempotencyStrategy: sdk.IdempotencyStrategy.RetryAlways,
    // Uploads are retried only for what this says; the SDK's list leaves out time-outs.
    retryableErrorFn: (error) => sdk.RETRYABLE_ERR_FN_DEFAULT(error) || isTimeout(error),
  };
}

/** A socket time-out, as the error itself or (resumable session requests) as its first reason. */
function isTimeout(error: unknown): boolean {
  const shape = error as { code?: unknown; errors?: unknown } | null;
  const reason = Array.isArray(shape?.errors) ? (shape.errors[0] as { reason?: unknown } | undefined)?.reason : undefined;
  return TIMEOUT_CODES.has(String(shape?.code)) || TIMEOUT_CODES.has(String(reason));
}

function withHeader(headers: unknown, name: string, value: string): unknown {
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    copy.set(name, value);
    return copy;
  }
  return { ...(headers as Record<string, string> | undefined), [name]: value };
}
