/**
 * Marks what a client's credentials source throws (a token file that cannot be read, a token service out of reach or
 * refusing), so that the backend's error mapping reports it as the credentials' failure, not the store's: the SDKs
 * fetch credentials before a request and let such an error through as it is.
 */
const CREDENTIALS_FAILURE = Symbol("credentialsFailure");

/** `error` marked (wrapped when it cannot carry the mark). */
export function credentialsFailure(error: unknown): unknown {
  if (typeof error === "object" && error !== null && Object.isExtensible(error)) return Object.assign(error, { [CREDENTIALS_FAILURE]: true });
  return Object.assign(new Error(String(error), { cause: error }), { [CREDENTIALS_FAILURE]: true });
}

export function isCredentialsFailure(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { [CREDENTIALS_FAILURE]?: boolean })[CREDENTIALS_FAILURE] === true;
}

/** `call` with whatever it throws marked as the credentials' failure. */
export function watchedCredentials<A extends unknown[], R>(call: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await call(...args);
    } catch (error) {
      throw credentialsFailure(error);
    }
  };
}
