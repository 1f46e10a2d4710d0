import { compose } from "../probes/compose.ts";
import { Decoder, decodeRecorded } from "../probes/decode.ts";
import { findRow, type Report, subtractReports, summarize, totalTimeNs } from "../probes/report.ts";
import { builtinPlugins } from "../plugins/mod.ts";
import { assert, assertEquals, root } from "./_helpers.ts";

const composed = compose({ version: [0, 17, 0], plugins: builtinPlugins });
const meta = {
  host: "h",
  kernel: "6.18",
  tool: "fusetrace test",
  bpftrace: "0.17.0",
  start: "2026-11-29T00:00:00.000Z",
  durationS: 1,
};
const ctx = { composed, meta, mountOf: (c: number) => (c === 40 ? "/mnt/a" : `conn:${c}`) };
// Recorded with bpftrace 0.17 from bindfs; its maps since brought to the current program's
// (@cnt of the request source only for requests without a reply; no @min/@max).
const recorded = Deno.readTextFileSync(`${root}tests/testdata/recorded-0.17.ndjson`);

Deno.test("decodes a recorded bpftrace 0.17 run (bindfs: ls -l, cat, stat)", () => {
  const r = decodeRecorded(recorded, ctx);
  const get = (operation: string) => findRow(r, { operation, mount: "/mnt/a" })!;
  assertEquals(get("LOOKUP").count, 5);
  assertEquals(get("LOOKUP").errors, { 2: 1 });
  assertEquals(get("LOOKUP").sumNs, 492032);
  // Min and max come from the histogram: within 1/32 of the recorded exact ones (438736, 44454).
  assertEquals(get("LOOKUP").maxNs, 442367);
  assert(get("LOOKUP").maxNs >= 438736 && get("LOOKUP").maxNs < 438736 * (1 + 1 / 32));
  assertEquals(get("LOOKUP").plugin, "lookup");
  assertEquals(get("GETXATTR").count, 9);
  assertEquals(get("GETXATTR").errors, { 61: 9 });
  assertEquals(get("STATX").plugin, "other");
  assertEquals(get("STATX").minNs, 44032);
  assert(get("STATX").minNs <= 44454 && get("STATX").minNs > 44454 * (1 - 1 / 32));
  assertEquals(get("READ").bytesOut, 4);
  assertEquals(get("READDIR").bytesOut, 160);
  assertEquals(get("READDIR").bytesIn, 0, "bytes to the daemon: WRITE and SETXATTR only");
  assertEquals(r.unmatched, 0);
});

Deno.test("interval snapshots are cumulative; their difference is the interval", () => {
  const d = new Decoder(ctx);
  const snaps: Report[] = [];
  for (const line of recorded.split("\n")) {
    const ev = d.push(line);
    if (ev.kind === "snapshot") snaps.push(ev.report);
  }
  assertEquals(snaps.length, 2);
  const second = subtractReports(snaps[1]!, snaps[0]!);
  assertEquals(second.rows.map((x) => `${x.operation}:${x.count}`).sort(), ["STATX:1"]);
  assert(!findRow(snaps[0]!, { operation: "STATX" }));
});

Deno.test("in-flight requests (packed 64-bit values), lost events, unmatched replies", () => {
  const d = new Decoder(ctx);
  const lines = [
    `{"type": "lost_events", "data": {"events": 7}}`,
    `{"type": "printf", "data": "fusetrace:end\\n"}`,
    // nsecs << 6 | opcode with an uptime of ~100 days: beyond 2^53.
    `{"type": "map", "data": {"@req": {"40,1234": 552960000000000000001, "41,88": 552960000000000000015}}}`,
    `{"type": "map", "data": {"@unmatched": 3}}`,
  ];
  for (const l of lines) d.push(l);
  const r = d.finish();
  assertEquals(r.lostEvents, 7);
  assertEquals(r.unmatched, 3);
  assertEquals(findRow(r, { operation: "LOOKUP" })?.inFlight, 1);
  assertEquals(findRow(r, { operation: "READ", mount: "conn:41" })?.inFlight, 1);
  // Counted from the pairing map: sent, never answered.
  assertEquals(findRow(r, { operation: "READ", mount: "conn:41" })?.count, 1);
});

Deno.test("a histogram map that ran out of keys is reported; counts and sums stay exact", () => {
  // A full histogram map (one key here) drops latencies; a map with room only shows requests
  // that ended between the prints of @lat and @st: nothing was dropped.
  const full = {
    ...ctx,
    composed: compose({ version: [0, 17, 0], plugins: builtinPlugins, mapKeys: 1 }),
  };
  const roomy = new Decoder(ctx);
  for (
    const l of [
      `{"type": "printf", "data": "fusetrace:end\\n"}`,
      `{"type": "map", "data": {"@lat": {"1,40,1,300": 2}}}`,
      `{"type": "stats", "data": {"@st": {"1,40,1": {"count": 3, "average": 100, "total": 300}}}}`,
    ]
  ) roomy.push(l);
  assertEquals(roomy.finish().histogramDropped, undefined);
  const d = new Decoder(full);
  for (
    const l of [
      `{"type": "printf", "data": "fusetrace:end\\n"}`,
      `{"type": "map", "data": {"@lat": {"1,40,1,300": 2}}}`,
      `{"type": "stats", "data": {"@st": {"1,40,1": {"count": 5, "average": 100, "total": 500}}}}`,
    ]
  ) d.push(l);
  const r = d.finish();
  assertEquals(findRow(r, { operation: "LOOKUP" })?.count, 5);
  assertEquals(findRow(r, { operation: "LOOKUP" })?.sumNs, 500);
  assertEquals(r.histogramDropped, 3);
  assertEquals(r.pairingFull, undefined);
  const s = summarize(findRow(r, { operation: "LOOKUP" })!);
  assertEquals(
    [s.timed, s.mean],
    [5, 100],
    "the mean over every timed request, not the histogram's",
  );
});

Deno.test("counts: answered requests where timed, in flight from the pairing map, no-reply ones at send; a full pairing map is reported", () => {
  const lines = [
    `{"type": "printf", "data": "fusetrace:end\\n"}`,
    `{"type": "map", "data": {"@cnt": {"1,40,2": 7}}}`,
    `{"type": "map", "data": {"@lat": {"1,40,1,300": 64}}}`,
    `{"type": "stats", "data": {"@st": {"1,40,1": {"count": 64, "average": 100, "total": 6400}}}}`,
    `{"type": "map", "data": {"@req": {"40,1234": 552960000000000000001}}}`,
  ];
  const d = new Decoder(ctx);
  for (const l of lines) d.push(l);
  const r = d.finish();
  const lookup = findRow(r, { operation: "LOOKUP" })!;
  assertEquals([lookup.count, lookup.inFlight], [65, 1], "64 answered and timed, 1 in flight");
  assertEquals(findRow(r, { operation: "FORGET" })?.count, 7, "no reply: counted at send");
  assertEquals(r.pairingFull, undefined);
  // A pairing map of one key, holding one: full, requests may be missing.
  const full = new Decoder({
    ...ctx,
    composed: compose({ version: [0, 17, 0], plugins: builtinPlugins, mapKeys: 1 }),
  });
  for (const l of lines) full.push(l);
  assertEquals(full.finish().pairingFull, true);
});

Deno.test("--sample: 1 in N timed (and counted where timed), the others counted at send", () => {
  const d = new Decoder({
    ...ctx,
    composed: compose({ version: [0, 17, 0], plugins: builtinPlugins, sample: 8 }),
  });
  for (
    const l of [
      `{"type": "printf", "data": "fusetrace:end\\n"}`,
      `{"type": "map", "data": {"@cnt": {"1,40,1": 700, "1,40,2": 7}}}`,
      `{"type": "map", "data": {"@lat": {"1,40,1,300": 99}}}`,
      `{"type": "stats", "data": {"@st": {"1,40,1": {"count": 99, "average": 100, "total": 9900}}}}`,
      `{"type": "map", "data": {"@req": {"40,1232": 552960000000000000001}}}`,
    ]
  ) d.push(l);
  const r = d.finish();
  const lookup = findRow(r, { operation: "LOOKUP" })!;
  // 700 untimed, 99 timed and answered, 1 timed and in flight.
  assertEquals([lookup.count, lookup.inFlight, lookup.sample], [800, 1, 8]);
  assertEquals(summarize(lookup).timed, 99);
  // The total time: the timed ones' mean over every answered request.
  assertEquals(totalTimeNs(lookup), 100 * 799);
});

Deno.test("--sample auto: every request until the switch, then the 1 in N over the whole trace", () => {
  const auto = {
    ...ctx,
    composed: compose({
      version: [0, 17, 0],
      plugins: builtinPlugins,
      sample: 8,
      autoSampleRate: 10_000,
    }),
  };
  const snapshot = (maps: Record<string, unknown>) => [
    ...Object.entries(maps).map(([k, v]) => JSON.stringify({ type: "map", data: { [k]: v } })),
    `{"type": "printf", "data": "fusetrace:snapshot\\n"}`,
  ];
  // LOOKUPs on /mnt/a: 2 of the 1 in 8 and 12 others timed (3 of them ENOENT), each counted
  // where it was timed.
  const before = {
    "@lat": { "1,40,1,100": 2, "17,40,1,100": 5, "17,40,1,200": 7 },
    "@st": {
      "1,40,1": { count: 2, average: 1000, total: 2000 },
      "17,40,1": { count: 12, average: 2500, total: 30000 },
    },
    "@err": { "17,40,1,2": 3 },
  };
  // One second later the rate passed the threshold: 30 sent; since, the 1 in 8 alone timed (2
  // more), the 14 others counted at send.
  const after = {
    ...before,
    "@lat": { ...before["@lat"], "1,40,1,100": 3, "1,40,1,300": 1 },
    "@st": { ...before["@st"], "1,40,1": { count: 4, average: 2000, total: 8000 } },
    "@cnt": { "1,40,1": 14 },
    "@sw": 41024,
    "@swms": 2003,
  };
  const d = new Decoder(auto);
  const snaps = [...snapshot(before), ...snapshot(after)].map((l) => d.push(l))
    .flatMap((e) => e.kind === "snapshot" ? [e.report] : []);
  const [a, b] = snaps.map((r) => findRow(r, { operation: "LOOKUP" })!);
  // Before the switch: both parts, every request timed, no sample.
  assertEquals([a!.count, summarize(a!).timed, a!.sumNs, a!.sample], [14, 14, 32000, undefined]);
  assertEquals(a!.errors, { 2: 3 });
  assertEquals(snaps[0]!.autoSample, { above: 10_000, sample: 8 });
  // After: the 1 in 8 of the whole trace; the others' timings and errors are gone.
  assertEquals([b!.count, summarize(b!).timed, b!.sumNs, b!.sample], [30, 4, 8000, 8]);
  assertEquals(b!.errors, {});
  assertEquals(snaps[1]!.autoSample, {
    above: 10_000,
    sample: 8,
    switched: { afterS: 2.003, rate: 41024 },
  });
  // The interval across the switch subtracts the 1 in 8 from the 1 in 8.
  const i = findRow(subtractReports(snaps[1]!, snaps[0]!), { operation: "LOOKUP" })!;
  assertEquals([i.count, summarize(i).timed, i.sumNs, i.sample], [16, 2, 6000, 8]);
  assertEquals([...i.buckets].sort(), [[100, 1], [300, 1]]);
  assertEquals(i.sampledPart, undefined);
});
