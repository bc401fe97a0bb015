import hdr from "hdr-histogram-js";

export type Histogram = ReturnType<typeof hdr.build>;

/** Microsecond histogram, 3 significant digits, growing as needed. */
export function newHistogram(): Histogram {
  return hdr.build({ bitBucketSize: 64, numberOfSignificantValueDigits: 3, autoResize: true, lowestDiscernibleValue: 1 });
}

export function encode(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(text: string): Histogram {
  return hdr.decodeFromCompressedBase64(text, 64);
}

export function merge(encoded: readonly string[]): Histogram {
  const total = newHistogram();
  for (const text of encoded) total.add(decode(text));
  return total;
}

/** Percentiles in milliseconds (values recorded in microseconds). */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function percentiles(h: Histogram): Percentiles {
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}
