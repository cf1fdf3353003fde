/** The current hash route, as a hook; the routes themselves are in routes.ts. */
import { useEffect, useState } from "preact/hooks";
import { parseRoute, type Route } from "./routes.ts";

export { href, parseRoute, type Route } from "./routes.ts";

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = (): void => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
