/**
 * Terminal columns of text: wide characters (CJK, fullwidth forms, emoji) take two, combining
 * marks and zero-width joiners none, everything else one. An approximation of Unicode's East
 * Asian Width that is right for the characters chat text is made of.
 */
// biome-ignore lint/suspicious/noMisleadingCharacterClass: ranges of combining marks and zero-width code points, each a whole character
const ZERO = /[\u0300-\u036f\u200b-\u200f\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]|\p{Mn}/u;
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{1f300}-\u{1faff}\u{20000}-\u{3fffd}]/u;

export function charWidth(ch: string): number {
  if (ZERO.test(ch)) return 0;
  return WIDE.test(ch) ? 2 : 1;
}

export function textWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch);
  return width;
}

/** Splits text into lines of at most `width` columns, at spaces when a word fits, else anywhere. */
export function wrap(text: string, width: number): string[] {
  if (width < 1) return [text];
  const lines: string[] = [];
  let line = "";
  let used = 0;
  for (const word of text.split(/(?<= )/)) {
    const w = textWidth(word);
    if (used + textWidth(word.trimEnd()) <= width) {
      line += word;
      used += w;
      continue;
    }
    if (used > 0 && textWidth(word.trimEnd()) <= width) {
      lines.push(line.trimEnd());
      line = word;
      used = w;
      continue;
    }
    for (const ch of word) {
      const cw = charWidth(ch);
      if (used + cw > width) {
        lines.push(line);
        line = "";
        used = 0;
      }
      line += ch;
      used += cw;
    }
  }
  lines.push(line.trimEnd());
  return lines;
}

/** Cuts text to at most `width` columns and pads it with spaces to exactly `width`. */
export function fitToWidth(text: string, width: number): string {
  let out = "";
  let used = 0;
  for (const ch of text) {
    const cw = charWidth(ch);
    if (used + cw > width) break;
    out += ch;
    used += cw;
  }
  return out + " ".repeat(Math.max(0, width - used));
}
