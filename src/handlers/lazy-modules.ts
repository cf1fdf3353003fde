/**
 * The codec libraries, loaded on first use so that importing opencrate loads none of them (sharp is native and
 * slow to load; the others only cost start-up time).
 */
import type * as JsYaml from "js-yaml";
import type * as PapaParse from "papaparse";
import type SharpModule from "sharp";
import { lazyOptionalPackage } from "../optional-package.ts";

export type Sharp = typeof SharpModule;
export type YamlLibrary = typeof JsYaml;
export type CsvLibrary = typeof PapaParse;

let yamlPromise: Promise<YamlLibrary> | undefined;
let csvPromise: Promise<CsvLibrary> | undefined;

/** sharp, or NotSupportedError naming `path` when it is not installed or cannot load (no binary for this platform). */
export const loadSharp: (path: string) => Promise<Sharp> = lazyOptionalPackage("sharp", "Images and GIFs", async () => (await import("sharp")).default);

export function loadYaml(): Promise<YamlLibrary> {
  yamlPromise ??= import("js-yaml");
  return yamlPromise;
}

export function loadCsv(): Promise<CsvLibrary> {
  csvPromise ??= import("papaparse").then((module) => ("default" in module ? (module.default as CsvLibrary) : module));
  return csvPromise;
}
