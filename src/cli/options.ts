/** Parsers for numeric options; a bad value is a usage error (exit 2). */
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
