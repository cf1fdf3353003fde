/**
 * A backend whose objects report, as `lastModified`, the time a test clock showed when this wrapper wrote them.
 * Object stores keep modification times to the second, from their own clock; ordering by time is then tested by
 * moving a manual clock instead of sleeping past a second boundary.
 */
import type { ListOptions, ObjectInfo, StorageBackend } from "../../src/backends/backend.ts";
import type { Clock } from "../../src/clock.ts";

const WRITES = new Set(["put", "putStream", "putFile", "append"]);

export function withWriteTimesFrom(backend: StorageBackend, clock: Clock): StorageBackend {
  const writtenAt = new Map<string, Date>();
  const stamped = (info: ObjectInfo): ObjectInfo => ({ ...info, lastModified: writtenAt.get(info.key) ?? info.lastModified });
  const record = (key: string, info: ObjectInfo): ObjectInfo => {
    writtenAt.set(key, clock.now());
    return stamped(info);
  };
  return new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (typeof property === "string" && WRITES.has(property)) {
        return async (key: string, ...rest: unknown[]) => record(key, (await method(key, ...rest)) as ObjectInfo);
      }
      if (property === "copy") {
        return async (from: string, to: string, ...rest: unknown[]) => record(to, (await method(from, to, ...rest)) as ObjectInfo);
      }
      if (property === "head") return async (...args: unknown[]) => stamped((await method(...args)) as ObjectInfo);
      if (property === "list") {
        return async function* (prefix: string, options?: ListOptions): AsyncGenerator<ObjectInfo> {
          for await (const info of target.list(prefix, options)) yield stamped(info);
        };
      }
      return method;
    },
  });
}
