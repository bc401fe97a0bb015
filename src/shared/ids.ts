import { InvalidArgumentError } from "./errors.js";
import { quote } from "./quote.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `value` is a string in UUID form. */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/** Checks a UUID field and returns it lower-cased. */
export function requireUuid(field: string, value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`${field} must be a UUID, got ${quote(value)}`);
  return value.toLowerCase();
}

/** Checks a page size: 0 means `fallback`; above `max` is refused. */
export function pageLimit(field: string, value: number, fallback: number, max: number): number {
  if (value > max) throw new InvalidArgumentError(`${field} must be at most ${max}, got ${value}`);
  return value === 0 ? fallback : value;
}
