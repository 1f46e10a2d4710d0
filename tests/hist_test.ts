import { bucketOf, bucketRange, histogramOf, quantile, SUB } from "../probes/hist.ts";
import { assert, assertEquals, rng } from "./_helpers.ts";

Deno.test("every value lies in the range of its bucket, ranges tile the line", () => {
  for (let v = 0; v < 5000; v++) {
    const [lo, hi] = bucketRange(bucketOf(v));
    assert(lo <= v && v < hi, `${v} not in [${lo}, ${hi})`);
  }
  for (const v of [2 ** 20, 2 ** 32 + 12345, 3.7e9, 1e12]) {
    const [lo, hi] = bucketRange(bucketOf(v));
    assert(lo <= v && v < hi, `${v} not in [${lo}, ${hi})`);
    assert((hi - lo) / lo <= 1 / SUB, "bucket width ≤ 1/32 of its lower bound");
  }
  for (let b = 0; b < 40 * SUB; b++) assertEquals(bucketRange(b)[1], bucketRange(b + 1)[0]);
});

function exact(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

Deno.test("percentiles are within 5 % of the exact quantiles of known samples", () => {
  const r = rng(42);
  const samples: Record<string, number[]> = {
    "exponential 50us": Array.from({ length: 20000 }, () => -Math.log(1 - r()) * 50_000),
    "uniform 1-2ms": Array.from({ length: 20000 }, () => 1e6 + r() * 1e6),
    "lognormal": Array.from({ length: 20000 }, () => {
      const z = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
      return Math.exp(11 + 1.5 * z);
    }),
  };
  for (const [name, values] of Object.entries(samples)) {
    const ints = values.map(Math.round);
    const h = histogramOf(ints);
    const sorted = [...ints].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99, 0.999]) {
      const want = exact(sorted, q);
      const got = quantile(h, q, sorted[0], sorted[sorted.length - 1]);
      const err = Math.abs(got - want) / want;
      assert(err <= 0.05, `${name} q${q}: got ${got}, exact ${want}, error ${err}`);
    }
  }
});

Deno.test("quantile of an empty histogram is NaN; clamped to min and max", () => {
  assert(Number.isNaN(quantile(new Map(), 0.5)));
  const h = histogramOf([1000, 1000, 1000]);
  assertEquals(quantile(h, 1, 1000, 1000), 1000);
  assertEquals(quantile(histogramOf([3, 5, 7]), 0.5), 5);
});
