/**
 * `--sample N` live: beside a full trace of the same requests (two bpftrace programs attached at
 * once), every request is counted exactly; the p50 and p90 of 1 in 8 agree within 5 %, the p99
 * within 20 % (see below).
 */
import {
  buildTree,
  detectCapabilities,
  findRow,
  loadRun,
  summarize,
  totalTimeNs,
  unavailable,
} from "../mod.ts";
import { assert, assertEquals, runCli, spawnCli, withTestFs } from "./_helpers.ts";

const caps = Deno.uid() === 0 ? detectCapabilities() : undefined;
const TREE = { files: 12000, depth: 2, fanout: 12, seed: 11 };

Deno.test({
  name:
    "--sample 8: counts exact, p50/p90 within 5 % of the full trace's, p99 within 20 % (12 000 lookups)",
  ignore: !caps || !!unavailable("request", caps),
  async fn() {
    const tree = buildTree(TREE);
    const paths = [...tree.dirs, ...tree.files];
    const dir = Deno.makeTempDirSync();
    await withTestFs(
      { ...TREE, latency: { lookup: { kind: "uniform", minMs: 0.5, maxMs: 1.5 } } },
      async (fs) => {
        const full = await spawnCli(["trace", "-m", fs.mountPoint, "--csv", `${dir}/full.csv`]);
        const sampled = await spawnCli([
          "trace",
          "-m",
          fs.mountPoint,
          "--sample",
          "8",
          "--csv",
          `${dir}/sampled.csv`,
        ]);
        // One client: concurrent ones queue in the daemon on 2 CPUs, and the tail becomes the queue.
        const list = paths.map((p) => `${fs.mountPoint}/${p}`).join("\n");
        const xargs = new Deno.Command("xargs", {
          args: ["-n", "300", "stat", "--printf", ""],
          stdin: "piped",
        }).spawn();
        const w = xargs.stdin.getWriter();
        await w.write(new TextEncoder().encode(list));
        await w.close();
        assertEquals((await xargs.status).code, 0);
        for (const t of [sampled, full]) {
          t.child.kill("SIGINT");
          const end = await t.finish();
          assertEquals(end.status.code, 0, end.stderr);
        }
        const sampledRun = await runCli(["report", `${dir}/sampled.csv`]);
        assert(/latency, errors and reply bytes from 1 in 8 requests/.test(sampledRun.stdout));
      },
    );
    const a = findRow(loadRun(`${dir}/full.csv`), { operation: "LOOKUP" })!;
    const b = findRow(loadRun(`${dir}/sampled.csv`), { operation: "LOOKUP" })!;
    assertEquals([a.count, b.count], [paths.length, paths.length], "every request counted");
    assertEquals([a.sample, b.sample], [undefined, 8]);
    const [sa, sb] = [summarize(a), summarize(b)];
    // Ids go to every opcode: LOOKUPs get about 1 in 8 of them.
    assert(Math.abs(sb.timed / a.count - 1 / 8) < 0.02, `${sb.timed} of ${a.count} timed`);
    for (const p of ["p50", "p90"] as const) {
      assert(Math.abs(sb[p] / sa[p] - 1) < 0.05, `${p}: sampled ${sb[p]} ns, full ${sa[p]} ns`);
    }
    // The tail is this VM's noise (the full p99 lies above the injected maximum), and 1 in 8 of
    // it came out 8–13 % higher in every run: an open point of issue 14, bounded here, not hidden.
    assert(Math.abs(sb.p99 / sa.p99 - 1) < 0.2, `p99: sampled ${sb.p99} ns, full ${sa.p99} ns`);
    // The total time of the sampled run is the timed ones' mean over every request.
    assert(Math.abs(totalTimeNs(b) / totalTimeNs(a) - 1) < 0.05);
    Deno.removeSync(dir, { recursive: true });
  },
});
