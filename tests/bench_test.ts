/** bench is a benchmark, not a test: here it only has to run end to end and write well-formed output. */
import { existsSync } from "node:fs";
import { readCsv } from "../reporters/csv.ts";
import { findRow } from "../probes/report.ts";
import { type SoakSample, soakVerdict } from "../bench/bench.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  root,
  runCli,
  spawnUntil,
  withSquashfs,
} from "./_helpers.ts";

Deno.test("bench runs every workload on a small tree, traced, with a CSV per run", async () => {
  await withSquashfs({ dirs: 2, subdirs: 2, filesPerDir: 10 }, async (m) => {
    const dir = Deno.makeTempDirSync();
    const r = await runCli(["bench", m.mountPoint, "--csv-dir", dir]);
    assertEquals(r.code, 0, r.stderr);
    for (const w of ["storm", "walk", "cold-read", "warm-read", "import"]) {
      assertMatch(r.stdout, new RegExp(`^${w}\\s+1\\s+yes\\s+[\\d.]+ms\\s+\\d+\\s+\\d+`, "m"));
      const report = readCsv(Deno.readTextFileSync(`${dir}/bench_${w}_1.csv`), w);
      assert(report.rows.length > 0, w);
    }
    // Cold: caches were dropped, so the storm's stat() calls reach the daemon again.
    const storm = readCsv(Deno.readTextFileSync(`${dir}/bench_storm_1.csv`), "storm");
    assert(findRow(storm, { operation: "LOOKUP" })!.count >= 40);
    const u = await runCli(["bench", m.mountPoint, "-w", "storm,import", "--untraced", "-r", "2"]);
    assertEquals(u.code, 0, u.stderr);
    assertEquals(u.stdout.split("\n").filter((l) => / no /.test(l)).length, 4);
    Deno.removeSync(dir, { recursive: true });
  });
});

Deno.test("bench --overhead reports ratios and BPF time for every variant", async () => {
  await withSquashfs({ dirs: 1, subdirs: 2, filesPerDir: 20 }, async (m) => {
    const r = await runCli(["bench", m.mountPoint, "--overhead", "-r", "1"]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /^untraced\s+[\d.]+ms\s+\+0\.0%\s+\+0\.0%\s+\+0\.0%\s+-\s+-$/m);
    // The kernel's accounting of the BPF run time each traced variant cost, per stat() and per
    // FUSE request.
    for (
      const v of [
        "fusetrace",
        "fusetrace --sample 8",
        "fusetrace --sample auto",
        "fusetrace --sample auto \\(switched\\)",
        "fusetrace\\+daemon",
        "fusetrace\\+daemon --sample 8",
        "fusetrace\\+analyses",
        "minimal\\.bt",
        "printf\\.bt",
        "empty\\.bt",
        "count\\.bt",
      ]
    ) {
      assertMatch(
        r.stdout,
        new RegExp(`^${v}\\s+[\\d.]+ms\\s+[+-][\\d.]+%.*\\s[1-9]\\d*ns\\s+[1-9]\\d*ns$`, "m"),
      );
    }
  });
});

Deno.test("bench --overhead --variants: a chosen few, and a script of the user's", async () => {
  const dir = Deno.makeTempDirSync();
  const mine = `${dir}/mine.bt`;
  Deno.writeTextFileSync(
    mine,
    "tracepoint:fuse:fuse_request_send { @n[args->opcode] = count(); }\n",
  );
  const broken = `${dir}/broken.bt`;
  Deno.writeTextFileSync(broken, "tracepoint:fuse:fuse_request_send { @n = nope(); }\n");
  await withSquashfs({ dirs: 1, subdirs: 2, filesPerDir: 20 }, async (m) => {
    const r = await runCli(["bench", m.mountPoint, "--overhead", "--variants", `count.bt,${mine}`]);
    assertEquals(r.code, 0, r.stderr);
    const rows = r.stdout.split("\n").filter((l) => /^\S+\s+[\d.]+ms/.test(l));
    assertEquals(rows.map((l) => l.split(/\s+/)[0]), ["untraced", "count.bt", mine]);
    assertMatch(rows[2]!, /\s[1-9]\d*ns\s+[1-9]\d*ns$/);
    const b = await runCli(["bench", m.mountPoint, "--overhead", "--variants", broken]);
    assertEquals(b.code, 1, b.stderr);
    assertMatch(b.stderr, new RegExp(`${broken}: bpftrace did not attach it: .*nope`));
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("bench --soak: memory and map fill sampled over the soak, and a verdict", async () => {
  await withSquashfs({ dirs: 1, subdirs: 4, filesPerDir: 50 }, async (m) => {
    const r = await runCli(["bench", m.mountPoint, "--soak", "8s"]);
    // A sample a second (a tenth of the soak), requests growing with every storm.
    const rows = r.stdout.split("\n").filter((l) => /^\d+s\s/.test(l)).map((l) => l.split(/\s+/));
    assert(rows.length >= 6, r.stdout + r.stderr);
    const requests = rows.map((x) => Number(x[3]));
    assert(requests.every((n, i) => i === 0 || n >= requests[i - 1]!), r.stdout);
    assert(requests.at(-1)! > requests[0]!, "storms ran throughout");
    // 8 s judge little (Deno's heap grows until its collector runs): the verdict is said, and
    // the exit status follows it (soakVerdict's thresholds are tested below).
    const v = /^after warm-up \(\d+s to \d+s\): bpftrace RSS [+-][\d.]+M, .* — (flat|GROWS)/m
      .exec(r.stdout);
    assert(v, r.stdout);
    assertEquals(r.code, v[1] === "flat" ? 0 : 1, r.stderr);
  });
});

Deno.test("soakVerdict: growth after warm-up beyond the slack is said, warm-up is not", () => {
  const at = (t: number, bpf: number, deno: number): SoakSample => ({
    t,
    bpftraceRss: bpf * 1048576,
    denoRss: deno * 1048576,
    requests: t * 1000,
    buckets: 100,
    inFlight: 0,
    bpftraceCpu: 0.1,
    denoCpu: 0.2,
  });
  // Warm-up (the first fifth) may grow; after it, 0.5 MiB is noise, 3 MiB a leak.
  const flat = [at(0, 10, 50), at(10, 20, 80), ...[20, 30, 40, 50].map((t) => at(t, 20.5, 90))];
  assertEquals(soakVerdict(flat).flat, true);
  const leak = [...flat.slice(0, 5), at(60, 23, 90)];
  assertEquals(soakVerdict(leak).flat, false);
  assertMatch(soakVerdict(leak).line, /bpftrace RSS \+3\.0M.*GROWS/);
  assertMatch(soakVerdict(flat.slice(0, 2)).line, /too few to judge/);
});

Deno.test("bench stopped by SIGTERM: exit 130, its tree unmounted and removed, BPF stats as before", async () => {
  const stats = "/proc/sys/kernel/bpf_stats_enabled";
  const statsBefore = Deno.readTextFileSync(stats);
  const generated = () =>
    Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) =>
      l.includes("/fusetrace-sqfs-")
    ).map((l) => l.split(" ")[4]!);
  const before = generated();
  const run = await spawnUntil(
    [
      `${root}cli.ts`,
      "bench",
      "--overhead",
      "--files",
      "600",
      "-r",
      "100",
      "--variants",
      "empty.bt",
    ],
    "round 1/100",
  );
  const mine = generated().filter((m) => !before.includes(m));
  assertEquals(mine.length, 1, "the generated tree is mounted");
  run.child.kill("SIGTERM");
  const r = await run.finish();
  assertEquals(r.status.code, 130, r.stderr);
  assertEquals(generated(), before);
  assert(!existsSync(mine[0]!.replace(/\/mnt$/, "")), "its directory is removed");
  assertEquals(Deno.readTextFileSync(stats), statsBefore, "kernel.bpf_stats_enabled restored");
});

Deno.test("bench bad input: one line, exit 2", async () => {
  for (
    const [args, re] of [
      [["bench", "/tmp"], /"\/tmp" is not on a FUSE mount/],
      [["bench", "-w", "sprint"], /Unknown workload "sprint"/],
      [["bench", "--cpu", "99"], /Invalid --cpu "99"/],
      [["bench", "-r", "0"], /Invalid --repeat "0"/],
      [["bench", "--overhead", "--variants", "fast.bt"], /fast\.bt: cannot read: no such file/],
      [["bench", "--overhead", "--variants", "nope"], /Unknown variant "nope"; valid variants: /],
      [["bench", "--variants", "fusetrace"], /--variants selects what --overhead measures/],
      [["bench", "-i", "2s"], /--interval sets how often --soak samples: add --soak/],
    ] as const
  ) {
    const r = await runCli([...args]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr.trim(), re);
  }
  // A CPU outside the process's affinity (a cpuset, taskset) is refused too, not only past the end.
  const r = await runCli(["bench", "--cpu", "0"], { wrap: ["taskset", "-c", "1"] });
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trim(), `fusetrace: Invalid --cpu "0": this process may run on CPUs 1`);
});
