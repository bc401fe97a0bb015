import { InvalidArgumentError } from "../shared/errors.js";

export const CYPHR_ID_PATTERN = /^[a-z0-9_]{3,30}$/;

/** Ids nobody may register: they impersonate the service or its staff. */
const RESERVED = new Set([
  "admin",
  "administrator",
  "root",
  "system",
  "support",
  "help",
  "cyphr",
  "cyphr_team",
  "official",
  "security",
  "staff",
  "moderator",
  "mod",
  "operator",
  "server",
  "api",
  "null",
  "undefined",
  "everyone",
  "here",
  "info",
  "abuse",
  "postmaster",
  "webmaster",
  "noreply",
  "no_reply",
]);

export type CyphrIdStatus = "valid" | "invalid_format" | "reserved";

export function classifyCyphrId(cyphrId: string): CyphrIdStatus {
  if (!CYPHR_ID_PATTERN.test(cyphrId)) return "invalid_format";
  return RESERVED.has(cyphrId) ? "reserved" : "valid";
}

export function assertCyphrIdFormat(cyphrId: string, field = "cyphr_id"): void {
  if (!CYPHR_ID_PATTERN.test(cyphrId)) {
    throw new InvalidArgumentError(`${field} must match ^[a-z0-9_]{3,30}$ (lower-case letters, digits, underscore)`);
  }
}
