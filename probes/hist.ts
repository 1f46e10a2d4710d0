/**
 * Log-linear latency histograms: values below 2^SUB_BITS are exact, above that each power of two
 * is split into 2^SUB_BITS equal buckets, so a bucket's width is at most 1/32 of its lower bound
 * and an interpolated percentile is off by less than 3.2 % (half that at the bucket's middle).
 * The composer computes the same bucket index inside the bpftrace program.
 * @module
 */

/** log2 of the number of sub-buckets per power of two. */
export const SUB_BITS = 5;
/** Sub-buckets per power of two. */
export const SUB = 1 << SUB_BITS;

/** Sparse histogram: bucket index → count. */
export type Buckets = ReadonlyMap<number, number>;

function log2floor(v: number): number {
  let e = 0;
  while (v >= 2) {
    v = Math.floor(v / 2);
    e++;
  }
  return e;
}

/**
 * The bucket index of a value (ns), the same as the bpftrace program computes.
 * @example Exact below 32
 * ```ts
 * import { bucketOf } from "./hist.ts";
 * bucketOf(7); // 7
 * ```
 */
export function bucketOf(value: number): number {
  if (value < SUB) return Math.max(0, Math.floor(value));
  const e = log2floor(value);
  const scale = 2 ** (e - SUB_BITS);
  return (e - SUB_BITS + 1) * SUB + (Math.floor(value / scale) % SUB);
}

/** The half-open range [lo, hi) of values in a bucket. */
export function bucketRange(bucket: number): [number, number] {
  if (bucket < SUB) return [bucket, bucket + 1];
  const e = Math.floor(bucket / SUB) + SUB_BITS - 1;
  const width = 2 ** (e - SUB_BITS);
  const lo = (SUB + (bucket % SUB)) * width;
  return [lo, lo + width];
}

/** Total count of a histogram. */
export function totalCount(buckets: Buckets): number {
  let n = 0;
  for (const c of buckets.values()) n += c;
  return n;
}

/**
 * The q-quantile (0 ≤ q ≤ 1) of a histogram, interpolated linearly inside the bucket and clamped
 * to the exact [min, max] when given. NaN for an empty histogram.
 * @example Median
 * ```ts
 * import { quantile } from "./hist.ts";
 * quantile(new Map([[3, 1], [5, 1], [7, 1]]), 0.5); // 5
 * ```
 */
export function quantile(buckets: Buckets, q: number, min?: number, max?: number): number {
  const total = totalCount(buckets);
  if (total === 0) return NaN;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  const sorted = [...buckets.entries()].filter(([, c]) => c > 0).sort((a, b) => a[0] - b[0]);
  let seen = 0;
  let value = NaN;
  for (const [b, c] of sorted) {
    if (seen + c >= rank) {
      const [lo, hi] = bucketRange(b);
      // Exact buckets hold one value; wider ones are interpolated by rank.
      value = b < SUB ? lo : lo + (hi - lo) * Math.min(Math.max((rank - seen) / c, 0), 1);
      break;
    }
    seen += c;
  }
  if (min !== undefined) value = Math.max(value, min);
  if (max !== undefined) value = Math.min(value, max);
  return value;
}

/** Histogram of raw values (for tests and for merging recorded samples). */
export function histogramOf(values: Iterable<number>): Map<number, number> {
  const h = new Map<number, number>();
  for (const v of values) {
    const b = bucketOf(v);
    h.set(b, (h.get(b) ?? 0) + 1);
  }
  return h;
}

/** Adds histograms bucket-wise (b may be negative-weighted with sign = -1). */
export function addBuckets(a: Buckets, b: Buckets, sign = 1): Map<number, number> {
  const out = new Map(a);
  for (const [k, c] of b) {
    const v = (out.get(k) ?? 0) + sign * c;
    if (v === 0) out.delete(k);
    else out.set(k, v);
  }
  return out;
}
