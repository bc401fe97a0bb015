import type { CommonQueryMethods } from "slonik";
import { UniqueIntegrityConstraintViolationError } from "slonik";
import { z } from "zod";

/** A pool, a pooled connection or a transaction: repo functions accept any of them. */
export type Db = CommonQueryMethods;

/** Column parsers shared by repos. */
export const bytes = z.instanceof(Buffer);
export const uuid = z.string().uuid();
export const timestamp = z.date();

/** The violated unique constraint's name, or undefined when `error` is something else. */
export function uniqueViolation(error: unknown): string | undefined {
  if (error instanceof UniqueIntegrityConstraintViolationError) return error.constraint ?? "";
  return undefined;
}
