/** Something the SDK can read a file from by byte range: bytes in memory or a Blob (a browser File, Node's fs.openAsBlob). */
export type FileSource = Uint8Array | Blob;

export interface RangeReader {
  size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}

export function rangeReader(source: FileSource): RangeReader {
  if (source instanceof Uint8Array) return { size: source.length, read: async (start, end) => source.subarray(start, end) };
  return { size: source.size, read: async (start, end) => new Uint8Array(await source.slice(start, end).arrayBuffer()) };
}
