/** Parsers for option values; a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from "commander";

export function nonNegativeInteger(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
    throw new InvalidArgumentError("expected a whole number (0 or more).");
  }
  return parsed;
}

export function positiveInteger(value: string): number {
  const parsed = nonNegativeInteger(value);
  if (parsed === 0) throw new InvalidArgumentError("expected a whole number above 0.");
  return parsed;
}

/** A host name or address to listen on: "" would mean every interface, so an empty or blank one is refused. */
export function hostAddress(value: string): string {
  if (value.trim() === "") throw new InvalidArgumentError("expected a host name or address, such as 127.0.0.1 or 0.0.0.0.");
  return value;
}
