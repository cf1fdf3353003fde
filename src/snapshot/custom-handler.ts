/**
 * Adapts a user's handler class (save/load plus any other methods) to the ArtifactHandler shape. Before its first
 * call the instance is given `path`, `name`, `snapshotType`, `verbose` and `storage` (scoped to the artifact path).
 */
import { InvalidArgumentError } from "../errors.ts";
import type { ArtifactHandler, ArtifactStorage } from "../handlers/types.ts";
import type { Artifact } from "./artifact.ts";

/** What opencrate sets on a custom handler instance before using it. */
export interface HandlerAttachments {
  path: string;
  name: string;
  snapshotType: string;
  verbose: boolean;
  storage: ArtifactStorage;
}

/** The least a custom handler class must have. */
export interface CustomHandler {
  save(data: never, ...rest: never[]): unknown;
  load(...args: never[]): unknown;
}

export type CustomHandlerClass<H extends CustomHandler> = new () => H;

type SaveInput<H> = H extends { save(data: infer D, ...rest: never[]): unknown } ? D : unknown;
type SaveExtra<H> = H extends { save(data: never, options: infer O, ...rest: never[]): unknown } ? O : undefined;
type LoadOutput<H> = H extends { load(...args: never[]): infer R } ? Awaited<R> : unknown;
type LoadExtra<H> = H extends { load(options: infer O, ...rest: never[]): unknown } ? O : undefined;
type AttachedKeys = keyof HandlerAttachments | "save" | "load";

/** An artifact of a custom type: the Artifact API plus the handler's own extra methods (e.g. `reset()`). */
export type CustomArtifact<H extends CustomHandler> = Artifact<SaveInput<H>, LoadOutput<H>, SaveExtra<H>, LoadExtra<H>> & {
  readonly [K in Exclude<keyof H, AttachedKeys>]: H[K];
};

export function validateHandlerClass(handler: unknown, type: string): asserts handler is CustomHandlerClass<CustomHandler> {
  const prototype = typeof handler === "function" ? (handler as { prototype?: Record<string, unknown> }).prototype : undefined;
  if (prototype === undefined || typeof prototype.save !== "function" || typeof prototype.load !== "function") {
    throw new InvalidArgumentError(
      `The handler for artifact type '${type}' must be a class with save() and load() methods.`,
    );
  }
}

/** Wraps a handler instance so the shared Artifact class can drive it. */
export function adaptCustomHandler<H extends CustomHandler>(
  instance: H,
  type: string,
): ArtifactHandler<SaveInput<H>, LoadOutput<H>, SaveExtra<H>, LoadExtra<H>> {
  const callable = instance as unknown as {
    save(data: unknown, ...rest: unknown[]): unknown;
    load(...args: unknown[]): unknown;
  };
  return {
    type,
    async save(data, _storage, options) {
      await (options === undefined ? callable.save(data) : callable.save(data, options));
    },
    async load(_storage, options) {
      return (await (options === undefined ? callable.load() : callable.load(options))) as LoadOutput<H>;
    },
  };
}

/** Copies the handler's extra methods onto the artifact, bound to the handler instance. */
export function exposeHandlerMethods(target: object, instance: object): void {
  const reserved = new Set(["save", "load", "constructor", "path", "name", "snapshotType", "verbose", "storage"]);
  for (let proto = Object.getPrototypeOf(instance) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      const value = (instance as Record<string, unknown>)[key];
      if (reserved.has(key) || key in target || typeof value !== "function") continue;
      Object.defineProperty(target, key, { value: (value as (...args: unknown[]) => unknown).bind(instance), enumerable: false });
    }
  }
}
