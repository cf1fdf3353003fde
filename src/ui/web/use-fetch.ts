/** Loads a JSON answer for the current arguments; stale answers are dropped. */
import { useEffect, useState } from "preact/hooks";
import { getJson } from "./api.ts";

export type Loaded<T> = { readonly state: "loading" } | { readonly state: "ok"; readonly data: T } | { readonly state: "error"; readonly message: string };

const LOADING = { state: "loading" } as const;

export function useJson<T>(url: string | undefined): Loaded<T> {
  const [result, setResult] = useState<{ readonly url: string | undefined; readonly loaded: Loaded<T> }>({ url, loaded: LOADING });
  useEffect(() => {
    if (url === undefined) return;
    let current = true;
    setResult({ url, loaded: LOADING });
    getJson<T>(url).then(
      (data) => current && setResult({ url, loaded: { state: "ok", data } }),
      (error: unknown) => current && setResult({ url, loaded: { state: "error", message: error instanceof Error ? error.message : String(error) } }),
    );
    return () => {
      current = false;
    };
  }, [url]);
  // The render right after the URL changes comes before the effect: the previous URL's answer is not this one's.
  return result.url === url ? result.loaded : LOADING;
}
