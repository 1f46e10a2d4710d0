import { fuseMounts } from "../probes/mounts.ts";
import { readCsv } from "../reporters/csv.ts";
import { findRow } from "../probes/report.ts";
import { assert, assertEquals, assertMatch, runCli, spawnUntil } from "./_helpers.ts";

async function testfsProcesses(): Promise<string[]> {
  const o = await new Deno.Command("pgrep", { args: ["-af", "cli.ts testfs"] }).output();
  return new TextDecoder().decode(o.stdout).trim().split("\n").filter(Boolean);
}
/** testfs processes a user had running before the tests are not the demo's. */
const before = new Set(await testfsProcesses());
async function leftovers(): Promise<string> {
  return (await testfsProcesses()).filter((p) => !before.has(p)).join("\n");
}

Deno.test("demo: two traced runs on testfs, CSVs, a coloured diff; nothing left behind", async () => {
  const dir = Deno.makeTempDirSync();
  const before = fuseMounts().length;
  const r = await runCli(["demo", "--csv", `${dir}/demo`]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stderr.match(/workload done: 85 dirs, 2000 files/g)?.length, 2, r.stderr);
  for (const n of [1, 2]) {
    const report = readCsv(Deno.readTextFileSync(`${dir}/demo_${n}.csv`), "demo.csv");
    assertEquals(findRow(report, { source: "request", operation: "LOOKUP" })?.count, 2000 + 84);
    assertEquals(findRow(report, { source: "daemon", operation: "READ" })?.count, 2000);
  }
  assert(r.stdout.includes("where the time goes"), r.stdout);
  // The injected change (LOOKUP 200 → 600 us) is flagged, and nothing else.
  const verdicts = r.stdout.split("\n").filter((l) => l.startsWith("testfs ")).map((l) => [
    l.split(/\s+/)[1],
    / (same|regression|improvement)( \(.*\))?$/.exec(l)?.[1],
  ]);
  assertEquals(verdicts.length, 9, r.stdout);
  assertEquals(verdicts.filter(([, v]) => v !== "same"), [["TOTAL", "regression"], [
    "LOOKUP",
    "regression",
  ]], r.stdout);
  const gate = await runCli([
    "diff",
    `${dir}/demo_1.csv`,
    `${dir}/demo_2.csv`,
    "--fail-on",
    "regression",
  ]);
  assertEquals(gate.code, 1);
  assertMatch(
    gate.stderr,
    /^fusetrace: regression: testfs LOOKUP(, testfs lookup:LOOKUP \[\w+\])*$/m,
  );
  assertEquals(fuseMounts().length, before, "no leftover mount");
  assertEquals(await leftovers(), "", "no leftover testfs");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("demo: Ctrl-C unmounts and leaves nothing behind", async () => {
  const dir = Deno.makeTempDirSync();
  const before = fuseMounts().length;
  const t = await spawnUntil(
    ["cli.ts", "demo", "--files", "20000", "--csv", `${dir}/x`],
    "tracing with every plugin",
  );
  t.child.kill("SIGINT");
  const { status, stderr: err } = await t.finish();
  assertEquals(status.code, 0, err);
  assert(err.includes("unmounted"), err);
  assert(!err.includes("run 2/2"), "stopped after the first run");
  assertEquals(fuseMounts().length, before, "no leftover mount");
  assertEquals(await leftovers(), "", "no leftover testfs");
  Deno.removeSync(dir, { recursive: true });
});
