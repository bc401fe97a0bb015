import { InvalidArgumentError } from "./errors.js";

/**
 * The largest seq or cursor there can be: PostgreSQL's int8 maximum, 2^63 − 1. Protobuf
 * uint64 fields reach 2^64 − 1, so a client-supplied value above this cannot name anything
 * stored and is refused at the edge rather than reaching SQL.
 */
export const INT8_MAX = 2n ** 63n - 1n;

/**
 * Checks a client-supplied uint64 seq or cursor and returns it unchanged, as a bigint:
 * such values stay bigint until compared with a stored (server-assigned) value, so none
 * loses precision on the way to SQL.
 */
export function requireInt8(field: string, value: bigint): bigint {
  if (value < 0n || value > INT8_MAX) throw new InvalidArgumentError(`${field} must be between 0 and ${INT8_MAX}, got ${value}`);
  return value;
}
