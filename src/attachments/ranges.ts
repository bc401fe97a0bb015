/** A half-open byte range [offset, offset + length). */
export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * The byte ranges covered by the stored chunk `indexes` (ascending) of an upload of `size`
 * bytes in chunks of `chunkSize`: adjacent chunks merged, the last chunk only as long as
 * what is left of the upload.
 */
export function receivedRanges(indexes: readonly number[], chunkSize: number, size: number): ByteRange[] {
  const ranges: ByteRange[] = [];
  for (const index of indexes) {
    const offset = index * chunkSize;
    const length = Math.min(chunkSize, size - offset);
    const last = ranges.at(-1);
    if (last && last.offset + last.length === offset) last.length += length;
    else ranges.push({ offset, length });
  }
  return ranges;
}

/** The first range not covered by `ranges` (ascending, merged) within [0, size), if any. */
export function firstGap(ranges: readonly ByteRange[], size: number): ByteRange | undefined {
  let at = 0;
  for (const r of ranges) {
    if (r.offset > at) return { offset: at, length: r.offset - at };
    at = r.offset + r.length;
  }
  return at < size ? { offset: at, length: size - at } : undefined;
}

/** The parts of a blob in chunks of `chunkSize` that hold [offset, end), each with its slice. */
export function partsOf(offset: number, end: number, chunkSize: number): { part: number; start: number; end: number }[] {
  const parts: { part: number; start: number; end: number }[] = [];
  for (let at = offset; at < end; ) {
    const part = Math.floor(at / chunkSize);
    const partStart = part * chunkSize;
    const stop = Math.min(end, partStart + chunkSize);
    parts.push({ part, start: at - partStart, end: stop - partStart });
    at = stop;
  }
  return parts;
}
