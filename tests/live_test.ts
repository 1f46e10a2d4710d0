/**
 * Live tests: the real bpftrace against real squashfuse mounts set up here, exact request counts.
 */
import { fileSize } from "../demo/squashfs.ts";
import { walkStatRead } from "../demo/workload.ts";
import { detectCapabilities } from "../probes/capabilities.ts";
import { findRow, type Report } from "../probes/report.ts";
import { readCsv } from "../reporters/csv.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  runCli,
  spawnCli,
  traced,
  withSquashfs,
} from "./_helpers.ts";

const SHAPE = { dirs: 2, subdirs: 3, filesPerDir: 10 }; // 60 files, 8 directories + root

function counts(r: Report, mount: string): Record<string, number> {
  return Object.fromEntries(
    r.rows.filter((x) => x.mount === mount).map((x) => [x.operation, x.count]),
  );
}

Deno.test("exact per-opcode counts for walk + stat + read on a fresh squashfuse mount", async () => {
  await withSquashfs(SHAPE, async (m) => {
    const r = await traced({ mounts: [m.mountPoint] }, () => walkStatRead(m.mountPoint));
    const c = counts(r, m.mountPoint);
    const files = m.layout.files.length;
    const dirs = m.layout.dirs.length;
    assertEquals(files, 60);
    assertEquals(c.LOOKUP, files + dirs, "one LOOKUP per entry (cached afterwards)");
    assertEquals(c.OPEN, files);
    assertEquals(c.READ, files, "files ≤ 12 KiB are read in one request");
    assertEquals(c.RELEASE, files);
    assertEquals(c.OPENDIR, dirs + 1);
    assertEquals(c.RELEASEDIR, dirs + 1);
    const read = findRow(r, { operation: "READ", mount: m.mountPoint })!;
    const bytes = m.layout.files.reduce((s, _, i) => s + fileSize(i), 0);
    assertEquals(read.bytesOut, bytes, "READ reply payload = bytes of the files");
    assertEquals(read.plugin, "read");
    const flush = findRow(r, { operation: "FLUSH" });
    assertEquals(flush?.errors, { 38: 1 }, "squashfuse answers the first FLUSH with ENOSYS");
    for (const row of r.rows) {
      assertEquals(row.inFlight, 0);
      if (row.operation !== "FORGET") {
        assert(row.minNs > 0 && row.minNs <= row.maxNs, `${row.operation} min/max`);
        assert(row.sumNs >= row.minNs * (row.count - row.inFlight), `${row.operation} sum`);
      }
    }
    assertEquals(r.lostEvents, 0);
  });
});

Deno.test("mount, comm and plugin filters: only what was asked for is counted", async () => {
  await withSquashfs(SHAPE, async (a) => {
    await withSquashfs(SHAPE, async (b) => {
      const f = m_file(0);
      const cat = (p: string) => new Deno.Command("cat", { args: [p], stdout: "null" }).output();
      const r = await traced(
        { mounts: [a.mountPoint], comm: "cat", plugins: ["lookup", "open", "read"] },
        async () => {
          await cat(`${a.mountPoint}/${f}`);
          await cat(`${b.mountPoint}/${f}`);
          await Deno.readFile(`${a.mountPoint}/${m_file(1)}`);
        },
      );
      assertEquals(counts(r, b.mountPoint), {});
      assertEquals(counts(r, a.mountPoint), { LOOKUP: 3, OPEN: 1, READ: 1 });
      assertEquals(new Set(r.rows.map((x) => x.plugin)), new Set(["lookup", "open", "read"]));
    });
  });
});

function m_file(i: number): string {
  return `pkg0/lib0/mod${i}.py`;
}

Deno.test("a crash of the traced daemon loses nothing already counted", async () => {
  await withSquashfs(SHAPE, async (m) => {
    const r = await traced({ mounts: [m.mountPoint], plugins: ["lookup"] }, async () => {
      for (let i = 0; i < 5; i++) await Deno.stat(`${m.mountPoint}/pkg0/lib0/mod${i}.py`);
      m.daemon.kill("SIGKILL");
      await m.daemon.status;
      await Deno.stat(`${m.mountPoint}/pkg1`).catch(() => undefined);
    });
    assertEquals(counts(r, m.mountPoint).LOOKUP, 7); // pkg0, lib0, 5 files
  });
});

Deno.test("CLI: --duration, --interval -T, --csv; Ctrl-C still writes the CSV", async () => {
  await withSquashfs(SHAPE, async (m) => {
    const dir = Deno.makeTempDirSync();
    // Interval run with a duration.
    const t1 = await spawnCli([
      "trace",
      "-m",
      m.mountPoint,
      "--duration",
      "3s",
      "--interval",
      "1s",
      "-T",
      "--csv",
      `${dir}/i.csv`,
    ]);
    await walkStatRead(m.mountPoint);
    const out = await t1.finish();
    assertEquals(out.status.code, 0, out.stderr);
    assert(/^\d\d:\d\d:\d\d$/m.test(out.stdout), "timestamped interval reports");
    const total = readCsv(Deno.readTextFileSync(`${dir}/i.csv`), "i.csv");
    assertEquals(findRow(total, { operation: "OPEN" })?.count, 60);

    // Until Ctrl-C.
    const t2 = await spawnCli(["trace", "-m", m.mountPoint, "--csv", `${dir}/c.csv`]);
    assert(t2.stderr.includes(`Tracing FUSE requests on ${m.mountPoint}`), t2.stderr);
    for (const f of m.layout.files.slice(0, 7)) await Deno.readFile(`${m.mountPoint}/${f}`);
    t2.child.kill("SIGINT");
    const o2 = await t2.finish();
    assertEquals(o2.status.code, 0, o2.stderr);
    assert(o2.stdout.includes("RELEASE"), o2.stdout);
    const c = readCsv(Deno.readTextFileSync(`${dir}/c.csv`), "c.csv");
    assertEquals(findRow(c, { operation: "OPEN" })?.count, 7, "page cache: OPEN again, no READ");
    Deno.removeSync(dir, { recursive: true });
  });
});

Deno.test("every program variant of this machine attaches and runs", async () => {
  for (
    const args of [
      ["trace", "-d", "300ms"],
      ["trace", "-d", "300ms", "--plugins", "lookup,getattr", "--pid", "1", "--comm", "x"],
      ["trace", "-d", "1200ms", "-i", "500ms", "--plugins", "other,forget"],
      ["trace", "-d", "300ms", "--source", "request", "--hist"],
    ]
  ) {
    const r = await runCli(args);
    assertEquals(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert(r.stderr.includes("Hit Ctrl-C to end."), r.stderr);
  }
});

Deno.test("count: kernel functions with kprobes; without, requests per opcode honouring -r and -m", async () => {
  const caps = detectCapabilities();
  await withSquashfs(SHAPE, async (m) => {
    await withSquashfs(SHAPE, async (other) => {
      if (caps.kprobes) {
        // Machine-wide kernel functions: -m cannot apply (exact counts: the kernel matrix).
        const refused = await runCli(["count", "-m", m.mountPoint, "-d", "1s"]);
        assertEquals(refused.code, 2, refused.stderr);
        assertMatch(refused.stderr, /^fusetrace: count -m: kprobes count kernel functions/);
        const t = await spawnCli(["count", "-r", "^fuse_lookup$", "-d", "3s"]);
        for (const f of m.layout.files.slice(0, 5)) await Deno.stat(`${m.mountPoint}/${f}`);
        const o = await t.finish();
        assertEquals(o.status.code, 0, o.stderr);
        assertMatch(o.stdout, /^FUNC\s+COUNT\nfuse_lookup\s+\d+$/);
        return;
      }
      const t = await spawnCli(["count", "-r", "^LOOK", "-m", m.mountPoint, "-d", "3s"]);
      for (const f of m.layout.files.slice(0, 5)) {
        await Deno.stat(`${m.mountPoint}/${f}`);
        await Deno.stat(`${other.mountPoint}/${f}`); // another mount: not counted
      }
      const o = await t.finish();
      assertEquals(o.status.code, 0, o.stderr);
      assert(o.stderr.includes("kprobes are not available"), o.stderr);
      // pkg0, lib0 and 5 files; the GETATTRs after each LOOKUP are not asked for.
      assertEquals(o.stdout.trim().split("\n").map((l) => l.split(/\s+/)), [
        ["OPCODE", "COUNT"],
        ["LOOKUP", "7"],
      ]);
      const none = await runCli(["count", "-r", "^fuse_", "-d", "1s"]);
      assertEquals(none.code, 2);
      assertMatch(none.stderr, /No FUSE opcode matches "\^fuse_"/);
    });
  });
});

Deno.test("stopped before the probes are attached: an empty report, no error", async () => {
  const { prepare, run } = await import("../mod.ts");
  const report = await run(prepare({}), { signal: AbortSignal.abort() });
  assertEquals(report.rows, []);
});
