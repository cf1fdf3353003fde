/** Loads a JSON answer for the current arguments; stale answers are dropped. */
import { useEffect, useState } from "preact/hooks";
import { getJson } from "./api.ts";

export type Loaded<T> = { readonly state: "loading" } | { readonly state: "ok"; readonly data: T } | { readonly state: "error"; readonly message: string };

export function useJson<T>(url: string | undefined): Loaded<T> {
  const [result, setResult] = useState<Loaded<T>>({ state: "loading" });
  useEffect(() => {
    if (url === undefined) return;
    let current = true;
    setResult({ state: "loading" });
    getJson<T>(url).then(
      (data) => current && setResult({ state: "ok", data }),
      (error: unknown) => current && setResult({ state: "error", message: error instanceof Error ? error.message : String(error) }),
    );
    return () => {
      current = false;
    };
  }, [url]);
  return result;
}
