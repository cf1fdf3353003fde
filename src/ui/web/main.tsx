/** The viewer's page: a header with the root and where you are, and the page the hash names. */
import { render } from "preact";
import { useEffect } from "preact/hooks";
import "./styles.css";
import { ComparePage } from "./pages/compare.tsx";
import { NamesPage } from "./pages/names.tsx";
import { VersionPage } from "./pages/version.tsx";
import { VersionsPage } from "./pages/versions.tsx";
import { href, type Route, useRoute } from "./router.ts";
import { useJson } from "./use-fetch.ts";
import { printable } from "../../printable.ts";

interface Info {
  readonly root: string;
  readonly start: { name: string; folder?: string } | null;
}

function App() {
  const route = useRoute();
  const info = useJson<Info>("/api/info");
  const start = info.state === "ok" ? info.data.start : null;
  useEffect(() => {
    // Opened on a name or a snapshot: go there, unless the URL already names a page.
    if (start !== null && location.hash === "") {
      location.replace(start.folder === undefined ? href.versions(start.name) : href.version(start.name, start.folder));
    }
  }, [start]);
  return (
    <>
      <header class="top">
        <a class="brand" href={href.names()}>
          <img src="/assets/favicon.svg" alt="" width="20" height="20" />
          opencrate
        </a>
        <Crumbs route={route} />
        <span class="root" title="root (read-only)">
          {info.state === "ok" ? info.data.root : ""}
          <span class="badge mini">read-only</span>
        </span>
      </header>
      <main>
        <Page route={route} />
      </main>
    </>
  );
}

function Crumbs({ route }: { route: Route }) {
  if (route.page === "names") return <nav class="crumbs" />;
  return (
    <nav class="crumbs" aria-label="breadcrumbs">
      <a href={href.names()}>snapshots</a>
      <span class="sep">/</span>
      <a href={href.versions(route.name)}>{printable(route.name)}</a>
      {route.page === "version" && (
        <>
          <span class="sep">/</span>
          <a href={href.version(route.name, route.folder)}>{printable(route.folder)}</a>
        </>
      )}
      {route.page === "compare" && (
        <>
          <span class="sep">/</span>
          <span>
            {printable(route.a)} ↔ {printable(route.b)}
          </span>
        </>
      )}
    </nav>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case "names":
      return <NamesPage />;
    case "versions":
      return <VersionsPage name={route.name} />;
    case "version":
      return <VersionPage name={route.name} folder={route.folder} path={route.path} />;
    case "compare":
      return <ComparePage name={route.name} a={route.a} b={route.b} path={route.path} />;
  }
}

const mount = document.getElementById("app");
if (mount !== null) render(<App />, mount);
