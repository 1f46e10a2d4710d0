import { fuseMounts } from "../probes/mounts.ts";
import { readCsv } from "../reporters/csv.ts";
import { findRow } from "../probes/report.ts";
import { assert, assertEquals, runCli } from "./_helpers.ts";

Deno.test("demo: traces a squashfs workload, writes the CSV, leaves no mount or process", async () => {
  const dir = Deno.makeTempDirSync();
  const before = fuseMounts().length;
  const r = await runCli(["demo", "--csv", `${dir}/demo.csv`]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stderr.includes("workload done: 89 dirs, 2400 files"), r.stderr);
  assert(r.stdout.includes("LOOKUP"), r.stdout);
  const report = readCsv(Deno.readTextFileSync(`${dir}/demo.csv`), "demo.csv");
  assertEquals(findRow(report, { operation: "OPEN" })?.count, 2400);
  assertEquals(findRow(report, { operation: "LOOKUP" })?.count, 2400 + 88);
  assertEquals(fuseMounts().length, before, "no leftover mount");
  const ps = new TextDecoder().decode(
    (await new Deno.Command("pgrep", { args: ["-f", "squashfuse -f"] }).output()).stdout,
  );
  assertEquals(ps.trim(), "", "no leftover squashfuse");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("demo: Ctrl-C unmounts and leaves nothing behind", async () => {
  const dir = Deno.makeTempDirSync();
  const before = fuseMounts().length;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "demo", "--files", "20000", "--csv", `${dir}/x.csv`],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!err.includes("tracing with every plugin")) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  child.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    err += value;
  }
  await child.status;
  assert(err.includes("unmounted"), err);
  assertEquals(fuseMounts().length, before, "no leftover mount");
  Deno.removeSync(dir, { recursive: true });
});
