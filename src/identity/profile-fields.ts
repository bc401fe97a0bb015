import { InvalidArgumentError } from "../shared/errors.js";

export const DISPLAY_NAME_MAX_CHARS = 64;
export const AVATAR_REF_MAX_BYTES = 512;
export const ENCRYPTED_SETTINGS_MAX_BYTES = 65_536;

/** Trims and checks a display name; returns null for "none". */
export function normalizeDisplayName(raw: string): string | null {
  const name = raw.trim();
  if (name === "") return null;
  if ([...name].length > DISPLAY_NAME_MAX_CHARS) {
    throw new InvalidArgumentError(`display_name must be at most ${DISPLAY_NAME_MAX_CHARS} characters`);
  }
  // Control characters, line breaks, bidirectional overrides and invisible characters
  // (which can disguise a name); joiners stay allowed because emoji sequences need them.
  if (/[\p{Cc}\p{Zl}\p{Zp}\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/u.test(name)) {
    throw new InvalidArgumentError("display_name must not contain control characters, invisible characters or bidirectional overrides");
  }
  return name;
}

export function normalizeAvatarRef(raw: string): string | null {
  if (raw === "") return null;
  if (raw.length > AVATAR_REF_MAX_BYTES || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new InvalidArgumentError(`avatar_ref must be 1-${AVATAR_REF_MAX_BYTES} printable ASCII characters without spaces`);
  }
  return raw;
}

export function normalizeEncryptedSettings(raw: Uint8Array): Uint8Array | null {
  if (raw.length === 0) return null;
  if (raw.length > ENCRYPTED_SETTINGS_MAX_BYTES) {
    throw new InvalidArgumentError(`encrypted_settings must be at most ${ENCRYPTED_SETTINGS_MAX_BYTES} bytes, got ${raw.length}`);
  }
  return raw;
}
