import { InvalidArgumentError } from "./errors.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks a UUID field and returns it lower-cased. */
export function requireUuid(field: string, value: string): string {
  if (!UUID.test(value)) throw new InvalidArgumentError(`${field} must be a UUID, got "${value.slice(0, 64)}"`);
  return value.toLowerCase();
}

/** Checks a page size: 0 means `fallback`; above `max` is refused. */
export function pageLimit(field: string, value: number, fallback: number, max: number): number {
  if (value > max) throw new InvalidArgumentError(`${field} must be at most ${max}, got ${value}`);
  return value === 0 ? fallback : value;
}
