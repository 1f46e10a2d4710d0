/**
 * `merge`: N runs add into exactly the report one run of the same requests gives (made from the
 * same events; and live, against one trace spanning the runs), through CSV and JSON, by mount or
 * by operation, with mounts relabelled.
 */
import {
  buildTree,
  detectCapabilities,
  emptyRow,
  findRow,
  histogramOf,
  loadRun,
  mergeReports,
  type OpRow,
  prng as rng,
  readCsv,
  type Report,
  rowKey,
  unavailable,
  writeCsv,
} from "../mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  runCli,
  spawnCli,
  testMeta,
  withTestFs,
} from "./_helpers.ts";

/** A request as a test makes it up. */
interface Ev {
  mount: string;
  operation: string;
  ns: number;
  errno: number;
  bytes: number;
}

/** The report one trace of these requests gives (rows by mount and operation). */
function reportOf(events: Ev[], host: string): Report {
  const rows = new Map<string, OpRow & { ns: number[] }>();
  for (const e of events) {
    const id = { source: "request" as const, mount: e.mount, plugin: "p", operation: e.operation };
    const r = rows.get(rowKey(id)) ?? { ...emptyRow(id), ns: [] };
    r.count++;
    r.ns.push(e.ns);
    if (e.errno) r.errors[e.errno] = (r.errors[e.errno] ?? 0) + 1;
    r.bytesOut += e.bytes;
    rows.set(rowKey(id), r);
  }
  return {
    meta: testMeta(host, 10),
    rows: [...rows.values()].map(({ ns, ...r }) => ({
      ...r,
      timed: ns.length,
      minNs: Math.min(...ns),
      maxNs: Math.max(...ns),
      sumNs: ns.reduce((a, b) => a + b, 0),
      buckets: histogramOf(ns),
    })),
    lostEvents: 0,
    unmatched: 0,
  };
}

function events(n: number, seed: number): Ev[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => ({
    mount: r() < 0.5 ? "/cvmfs/a" : "/cvmfs/b",
    operation: ["LOOKUP", "GETATTR", "READ"][Math.floor(r() * 3)]!,
    ns: Math.round(1000 + 5e6 * r() ** 3),
    errno: r() < 0.1 ? 2 : 0,
    bytes: Math.floor(r() * 4096),
  }));
}

const byKey = (rows: OpRow[]) =>
  Object.fromEntries(rows.map((r) => [rowKey(r), r])) as Record<string, OpRow>;

Deno.test("merge of N runs = one run of the same requests (counts, errors, bytes, sums, buckets, min, max)", () => {
  const parts = [events(500, 1), events(800, 2), events(50, 3)];
  const runs = parts.map((e, i) => ({ file: `node${i}.csv`, report: reportOf(e, `node${i}`) }));
  const merged = mergeReports(runs);
  const whole = reportOf(parts.flat(), "all");
  assertEquals(byKey(merged.rows), byKey(whole.rows));
  assertEquals(merged.meta.host, "node0;node1;node2");
  assertEquals(merged.meta.durationS, 30);
  assertEquals(merged.meta.inputs!.map((i) => i.file), ["node0.csv", "node1.csv", "node2.csv"]);
  // Through the CSV (which leaves out `timed` where it equals the histogram's total): exact again.
  const untimed = (rows: OpRow[]) => rows.map(({ timed: _, ...r }) => r as OpRow);
  const back = readCsv(writeCsv(merged), "m.csv");
  assertEquals(byKey(untimed(back.rows)), byKey(untimed(whole.rows)));
  // By operation: the mounts fold into "*".
  const byOp = mergeReports(runs, "operation");
  const wholeOp = reportOf(parts.flat().map((e) => ({ ...e, mount: "*" })), "all");
  assertEquals(byKey(byOp.rows), byKey(wholeOp.rows));
});

Deno.test("merge CLI: CSV and JSON out, --by operation, --as pairs runs on different paths, bad input exit 2", async () => {
  const dir = Deno.makeTempDirSync();
  const a = reportOf(events(300, 4).map((e) => ({ ...e, mount: "/cvmfs/x" })), "n1");
  const b = reportOf(events(300, 5).map((e) => ({ ...e, mount: "/srv/x" })), "n2");
  Deno.writeTextFileSync(`${dir}/a.csv`, writeCsv(a));
  Deno.writeTextFileSync(`${dir}/b.csv`, writeCsv(b));
  const r = await runCli([
    "merge",
    "--as",
    "x",
    `${dir}/a.csv`,
    `${dir}/b.csv`,
    "-o",
    `${dir}/m.json`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /merged 2 runs \(3 rows, 600 requests\) into /);
  const m = loadRun(`${dir}/m.json`);
  assertEquals([...new Set(m.rows.map((x) => x.mount))], ["x"]);
  assertEquals(
    findRow(m, { operation: "READ" })!.count,
    findRow(a, { operation: "READ" })!.count + findRow(b, { operation: "READ" })!.count,
  );
  const csv = await runCli(["merge", "--by", "operation", `${dir}/a.csv`, `${dir}/b.csv`]);
  assertEquals(csv.code, 0);
  assertEquals(readCsv(csv.stdout, "-").rows.map((x) => x.mount), ["*", "*", "*"]);
  for (
    const bad of [
      ["merge"],
      ["merge", `${dir}/nope.csv`],
      ["merge", "--by", "host", `${dir}/a.csv`],
      ["merge", `${dir}/a.csv`, "-o", `${dir}/no/such/dir/m.csv`],
    ]
  ) {
    const x = await runCli(bad);
    assertEquals(x.code, 2, bad.join(" "));
    assertEquals(x.stderr.trim().split("\n").length, 1, x.stderr);
  }
  Deno.removeSync(dir, { recursive: true });
});

const caps = Deno.uid() === 0 ? detectCapabilities() : undefined;

Deno.test({
  name: "merge live: two runs one after the other add up to the trace that spanned both",
  ignore: !caps || !!unavailable("request", caps),
  async fn() {
    const TREE = { files: 90, depth: 2, fanout: 3, seed: 7 };
    const tree = buildTree(TREE);
    const paths = [...tree.dirs, ...tree.files];
    const dir = Deno.makeTempDirSync();
    await withTestFs({ ...TREE, latency: { lookup: { kind: "fixed", ms: 0.2 } } }, async (fs) => {
      const whole = await spawnCli(["trace", "-m", fs.mountPoint, "--csv", `${dir}/whole.csv`]);
      const half = Math.floor(paths.length / 2);
      for (const [i, part] of [paths.slice(0, half), paths.slice(half)].entries()) {
        const run = await spawnCli(["trace", "-m", fs.mountPoint, "--csv", `${dir}/run${i}.csv`]);
        for (const p of part) Deno.statSync(`${fs.mountPoint}/${p}`);
        for (const p of part.filter((x) => !x.includes("/"))) {
          Deno.readDirSync(`${fs.mountPoint}/${p}`);
        }
        run.child.kill("SIGINT");
        assertEquals((await run.finish()).status.code, 0);
      }
      whole.child.kill("SIGINT");
      assertEquals((await whole.finish()).status.code, 0);
    });
    const r = await runCli(["merge", `${dir}/run0.csv`, `${dir}/run1.csv`, "-o", `${dir}/m.csv`]);
    assertEquals(r.code, 0, r.stderr);
    const merged = loadRun(`${dir}/m.csv`), whole = loadRun(`${dir}/whole.csv`);
    const counts = (x: Report) =>
      Object.fromEntries(x.rows.map((row) => [row.operation, [row.count, row.timed ?? 0]]));
    assertEquals(counts(merged), counts(whole));
    assertEquals(findRow(merged, { operation: "LOOKUP" })!.count, paths.length);
    assert(merged.rows.length >= 4);
    Deno.removeSync(dir, { recursive: true });
  },
});
