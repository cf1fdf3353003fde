/**
 * How the log-writer thread rebuilds the run's backend: a plain, cloneable description of our own backends
 * (local disk, S3, GCS, and a prefix over one of them). Anything else (the memory backend, a backend object of the
 * application's own, an S3 or GCS backend built around a live client) has no recipe, and its logs are written
 * from the main thread instead.
 */
import type { StorageBackend } from "../backends/backend.ts";
import { GcsBackend, type GcsBackendOptions } from "../backends/gcs/index.ts";
import { CheckedBackend, checkedBackend } from "../backends/layers/checked.ts";
import { PrefixedBackend } from "../backends/layers/prefixed.ts";
import { LocalBackend, type LocalBackendOptions } from "../backends/local/index.ts";
import { S3Backend, type S3BackendOptions } from "../backends/s3/index.ts";

export type BackendRecipe =
  | { readonly kind: "local"; readonly options: LocalBackendOptions }
  | { readonly kind: "s3"; readonly options: S3BackendOptions }
  | { readonly kind: "gcs"; readonly options: GcsBackendOptions }
  | { readonly kind: "prefixed"; readonly inner: BackendRecipe; readonly prefix: string }
  | { readonly kind: "checked"; readonly inner: BackendRecipe };

export function recipeFor(backend: StorageBackend): BackendRecipe | undefined {
  if (backend instanceof LocalBackend) return { kind: "local", options: backend.portableOptions() };
  if (backend instanceof S3Backend) {
    const options = backend.portableOptions();
    return options === undefined ? undefined : { kind: "s3", options };
  }
  if (backend instanceof GcsBackend) {
    const options = backend.portableOptions();
    return options === undefined ? undefined : { kind: "gcs", options };
  }
  if (backend instanceof CheckedBackend) {
    const inner = recipeFor(backend.inner);
    return inner === undefined ? undefined : { kind: "checked", inner };
  }
  if (backend instanceof PrefixedBackend) {
    const inner = recipeFor(backend.inner);
    return inner === undefined ? undefined : { kind: "prefixed", inner, prefix: backend.prefix };
  }
  return undefined;
}

export function backendFromRecipe(recipe: BackendRecipe): StorageBackend {
  switch (recipe.kind) {
    case "local":
      return new LocalBackend(recipe.options);
    case "s3":
      return new S3Backend(recipe.options);
    case "gcs":
      return new GcsBackend(recipe.options);
    case "prefixed":
      return new PrefixedBackend(backendFromRecipe(recipe.inner), recipe.prefix);
    case "checked":
      return checkedBackend(backendFromRecipe(recipe.inner));
  }
}
