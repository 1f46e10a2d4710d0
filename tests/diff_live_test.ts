/**
 * diff on real runs: repeats of one testfs workload, traced by the real bpftrace, stay green pair by
 * pair; a 25 % shift of READ (1 000 requests) is caught with 5 runs a side.
 */
import { compareRuns, type Diff } from "../reporters/diff.ts";
import { writeCsv } from "../reporters/csv.ts";
import type { Report } from "../probes/report.ts";
import { traceDuring } from "../mod.ts";
import type { TestFsOptions } from "../testfs/fs.ts";
import { spawnTestFs } from "../testfs/spawn.ts";
import { assert, assertEquals, assertMatch, runCli } from "./_helpers.ts";

const FILES = 1000;
const ms = (n: number) => ({ kind: "fixed" as const, ms: n });
const BASE: TestFsOptions = {
  depth: 2,
  fanout: 4,
  files: FILES,
  sizeScale: 0.05,
  // READ takes its time in the daemon; the others are answered at once, so theirs is the machine's
  // wake-ups, which can double from one identical run to the next on a busy VM (but they add up
  // to little of the mount's time).
  latency: { read: ms(1) },
};
const SHIFTED: TestFsOptions = { ...BASE, latency: { ...BASE.latency, read: ms(1.25) } };

/**
 * Stats every file, then reads every file, one at a time as a start-up does.
 */
async function workload(root: string): Promise<void> {
  const files: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`);
      else files.push(`${dir}/${e.name}`);
    }
  };
  await walk(root);
  for (const f of files) await Deno.stat(f);
  for (const f of files) await Deno.readFile(f);
}

async function runOnce(o: TestFsOptions): Promise<Report> {
  const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-diff-live-" });
  const fs = await spawnTestFs(mnt, o);
  try {
    const { report } = await traceDuring({ mounts: [mnt] }, () => workload(mnt));
    return report;
  } finally {
    await fs.close();
    Deno.removeSync(mnt);
  }
}

const changed = (d: Diff) =>
  d.rows.filter((r) => r.verdict !== "same").map((r) =>
    `${r.operation} ${r.verdict}${
      r.operation === "TOTAL" ? "" : ` ${JSON.stringify({ ...r.latency, added: r.addedNs })}`
    }`.replace(/ \{.*/, (x) => Deno.env.get("FUSETRACE_DEBUG") ? x : "")
  );

Deno.test("diff of real runs: 5 repeats green pair by pair; a 25 % READ shift caught", async () => {
  // Alternated, as a comparison of releases should be: a drift of the machine hits both sides.
  const base: Report[] = [];
  const shifted: Report[] = [];
  for (let i = 0; i < 5; i++) {
    base.push(await runOnce(BASE));
    shifted.push(await runOnce(SHIFTED));
  }
  // Mount points differ run by run: name them alike, as `diff --as testfs` does.
  const named = (rs: Report[]) =>
    rs.map((r) => ({ ...r, rows: r.rows.map((x) => ({ ...x, mount: "testfs" })) }));
  const [a, b] = [named(base), named(shifted)];
  const read = a[0]!.rows.find((r) => r.operation === "READ")!;
  assertEquals(read.count, FILES, "every file read in one request");
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      assertEquals(changed(compareRuns([a[i]!], [a[j]!])), [], `runs ${i + 1} and ${j + 1}`);
    }
  }
  assertEquals(changed(compareRuns(a.slice(0, 3), a.slice(3))), [], "3 runs against 2");
  // Several runs a side: READ alone (the TOTAL row sums what changed).
  assertEquals(changed(compareRuns(a, b)), ["TOTAL regression", "READ regression"]);

  // The same through the CLI: files, --as, several runs a side, the gate.
  const dir = Deno.makeTempDirSync({ prefix: "fusetrace-diff-live-csv-" });
  const csv = (r: Report, name: string) => {
    Deno.writeTextFileSync(`${dir}/${name}.csv`, writeCsv(r));
    return `${dir}/${name}.csv`;
  };
  const files = [...base.map((r, i) => csv(r, `a${i}`)), "--"].concat(
    shifted.map((r, i) => csv(r, `b${i}`)),
  );
  const gate = await runCli(["diff", "--as", "testfs", "--fail-on", "regression", ...files]);
  assertEquals(gate.code, 1, gate.stdout + gate.stderr);
  assertMatch(gate.stderr, /^fusetrace: regression: testfs READ$/m);
  assert(gate.stdout.includes("t-test of the runs' percentiles (5 vs 5 runs"), gate.stdout);
  const apart = await runCli(["diff", files[0]!, files[1]!]);
  assertMatch(apart.stderr, /share no rows .*--as NAME/);
  Deno.removeSync(dir, { recursive: true });
});
