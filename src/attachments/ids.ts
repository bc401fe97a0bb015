import { randomBytes } from "node:crypto";

/**
 * 128 random bits in UUID text form (8-4-4-4-12 lowercase hex). Every bit is random: this is
 * not an RFC 4122 version-4 UUID, and it never depends on the content it names.
 */
export function randomId(): string {
  const hex = randomBytes(16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
