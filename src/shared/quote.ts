/** Longest piece of caller input an error message repeats, in characters. */
export const QUOTE_MAX_CHARS = 64;

/**
 * Caller input as an error message may show it: JSON-quoted (so control characters and
 * quotes cannot break the message), at most QUOTE_MAX_CHARS characters of it, with the
 * original length when cut. A status must fit in one header block; input of any size
 * must not stop the client from hearing why it was refused.
 */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  if (text.length <= QUOTE_MAX_CHARS) return JSON.stringify(text);
  // Cut between UTF-16 surrogates would leave half a character.
  let cut = QUOTE_MAX_CHARS;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return `${JSON.stringify(text.slice(0, cut))}… (${text.length} characters)`;
}
