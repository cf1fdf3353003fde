/**
 * Loads @google-cloud/storage on first use and builds the one Storage client a backend uses.
 *
 * Retry policy (IdempotencyStrategy.RetryAlways): the SDK may retry every request, conditional writes included.
 * A retried conditional write is never trusted blindly: each one carries a writer token in its custom metadata
 * (`oc-token`), and a 412 or an ambiguous failure is settled by reading the object back (see upload.ts). A
 * retried precondition can only fail, never overwrite someone else's object, so the retry itself is safe; only
 * the meaning of its 412 needs checking. RetryAlways also keeps the SDK from flipping its shared `autoRetry`
 * flag per call, which under the other strategies races between concurrent calls on one client.
 */
import type { Storage, StorageOptions } from "@google-cloud/storage";
import { NotSupportedError } from "../../errors.ts";
import type { GcsSettings } from "./options.ts";

type StorageModule = typeof import("@google-cloud/storage");
type Interceptor = NonNullable<StorageOptions["interceptors_"]>[number];
type InterceptedRequest = ReturnType<Interceptor["request"]>;

let sdk: Promise<StorageModule> | undefined;

/** The SDK module, imported once per process on first use. */
export function loadStorageSdk(): Promise<StorageModule> {
  sdk ??= import("@google-cloud/storage").catch((error: unknown) => {
    sdk = undefined;
    throw new NotSupportedError(
      "gs:// locations need the @google-cloud/storage package, which could not be loaded: install it with `npm install @google-cloud/storage`.",
      { cause: error },
    );
  });
  return sdk;
}

/** Longest back-off between two retries, seconds. */
const MAX_RETRY_DELAY_S = 8;
/** Back-off grows by this factor per retry (1.5 s, 2.3 s, 3.4 s, … plus up to 1 s of jitter). */
const RETRY_DELAY_MULTIPLIER = 1.5;

export async function createStorage(settings: GcsSettings): Promise<Storage> {
  const { Storage, IdempotencyStrategy } = await loadStorageSdk();
  const storage = new Storage({
    apiEndpoint: settings.endpoint,
    ...(settings.projectId === undefined ? {} : { projectId: settings.projectId }),
    useAuthWithCustomEndpoint: settings.customEndpoint && settings.authenticate,
    // JSON API and multipart uploads (teeny-request): fails a request that waits this long for a byte.
    timeout: settings.requestTimeoutMs,
    // Resumable uploads go through gaxios, which only sees the options interceptors give it: without this they
    // have no time-out at all and an unreachable endpoint hangs them.
    // (The resumable path hands interceptors an empty object, hence the cast: there is no `uri` to keep.)
    interceptors_: [{ request: (options) => ({ timeout: settings.requestTimeoutMs, ...options }) as InterceptedRequest }],
    retryOptions: {
      // maxRetries 0 reads as "default (3)" in the SDK; autoRetry false is how to say none.
      autoRetry: settings.maxRetries > 0,
      maxRetries: Math.max(settings.maxRetries, 1),
      retryDelayMultiplier: RETRY_DELAY_MULTIPLIER,
      maxRetryDelay: MAX_RETRY_DELAY_S,
      // Retries are bounded by count. The total must stay far above (retries + 1) × the request time-out: the
      // JSON path's retry-request never calls back once the total is spent between two attempts (it hangs), and
      // resumable uploads refuse any retry once the total has passed since the upload began.
      totalTimeout: 24 * 60 * 60,
      idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    },
  });
  // The SDK uses STORAGE_EMULATOR_HOST verbatim as the JSON API base (without "/storage/v1") even when an
  // apiEndpoint is given, while uploads use apiEndpoint: one of the two paths is always wrong. The settings
  // already turned the variable into `endpoint`, so both paths get the same base here.
  storage.baseUrl = `${settings.endpoint}/storage/v1`;
  return storage;
}
