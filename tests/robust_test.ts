/**
 * Nothing lost or misattributed: the traced command's status, every stop signal, a killed or
 * stopped bpftrace, a traced mount that goes away, hostile names from the system.
 */
import { readCsv } from "../reporters/csv.ts";
import { findRow } from "../probes/report.ts";
import { findBpftrace } from "../probes/capabilities.ts";
import { uprobeSymbols } from "../probes/daemon.ts";
import { READY_MARK } from "../probes/schema.ts";
import { buildTree } from "../testfs/tree.ts";
import { buildStub } from "./_stub.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  readUntil,
  runCli,
  spawnCli,
  withSquashfs,
  withTestFs,
} from "./_helpers.ts";

const SHAPE = { depth: 1, fanout: 1, files: 6, sizeScale: 0.01 };

/** The first `n` files of the testfs tree, stat'ed by a separate process each. */
async function stats(mnt: string, n: number): Promise<void> {
  for (const f of buildTree(SHAPE).files.slice(0, n)) {
    await new Deno.Command("stat", { args: [`${mnt}/${f}`], stdout: "null" }).output();
  }
}

/** The LOOKUP count a written CSV holds. */
const lookupsIn = (file: string) =>
  findRow(readCsv(Deno.readTextFileSync(file), file), { operation: "LOOKUP" })?.count;

const bpftraceOf = async (pid: number) => {
  const o = await new Deno.Command("pgrep", { args: ["-P", String(pid), "bpftrace"] }).output();
  return Number(new TextDecoder().decode(o.stdout).trim().split("\n")[0]);
};

Deno.test("the traced command's exit status becomes fusetrace's, after the CSV is written", async () => {
  await withTestFs(SHAPE, async (fs) => {
    const dir = Deno.makeTempDirSync();
    const f = buildTree(SHAPE).files[0];
    const r = await runCli([
      "trace",
      "-m",
      fs.mountPoint,
      "--csv",
      `${dir}/x.csv`,
      "--",
      "sh",
      "-c",
      `stat ${fs.mountPoint}/${f} >/dev/null; exit 3`,
    ]);
    assertEquals(r.code, 3, r.stderr);
    assertMatch(r.stderr, /fusetrace: sh exited with status 3/);
    assertEquals(lookupsIn(`${dir}/x.csv`), 2, "sw0 and the file");
    Deno.removeSync(dir, { recursive: true });
  });
});

for (const signal of ["SIGHUP", "SIGQUIT", "SIGTERM"] as const) {
  Deno.test(`${signal} ends the trace and writes what was collected`, async () => {
    await withTestFs(SHAPE, async (fs) => {
      const dir = Deno.makeTempDirSync();
      const t = await spawnCli(["trace", "-m", fs.mountPoint, "--csv", `${dir}/s.csv`]);
      await stats(fs.mountPoint, 3);
      t.child.kill(signal);
      const o = await t.finish();
      assertEquals(o.status.code, 0, o.stderr);
      assertEquals(lookupsIn(`${dir}/s.csv`), 4);
      Deno.removeSync(dir, { recursive: true });
    });
  });
}

Deno.test("bpftrace killed: the last snapshot is written, with a line saying why", async () => {
  await withTestFs(SHAPE, async (fs) => {
    const dir = Deno.makeTempDirSync();
    const t = await spawnCli([
      "trace",
      "-m",
      fs.mountPoint,
      "-i",
      "500ms",
      "--csv",
      `${dir}/k.csv`,
    ]);
    await stats(fs.mountPoint, 3);
    await new Promise((r) => setTimeout(r, 1200)); // a snapshot after the requests
    Deno.kill(await bpftraceOf(t.child.pid), "SIGKILL");
    const o = await t.finish();
    assertEquals(o.status.code, 0, o.stderr);
    assertMatch(o.stderr, /the trace ended: bpftrace was killed by SIGKILL before its exit report/);
    assertEquals(lookupsIn(`${dir}/k.csv`), 4);
    Deno.removeSync(dir, { recursive: true });
  });
});

Deno.test("a stopped bpftrace is continued on Ctrl-C; the trace still ends with its report", async () => {
  await withTestFs(SHAPE, async (fs) => {
    const dir = Deno.makeTempDirSync();
    const t = await spawnCli(["trace", "-m", fs.mountPoint, "--csv", `${dir}/p.csv`]);
    await stats(fs.mountPoint, 2);
    Deno.kill(await bpftraceOf(t.child.pid), "SIGSTOP");
    t.child.kill("SIGINT");
    const o = await t.finish();
    assertEquals(o.status.code, 0, o.stderr);
    assertEquals(lookupsIn(`${dir}/p.csv`), 3);
    Deno.removeSync(dir, { recursive: true });
  });
});

Deno.test("Ctrl-C while bpftrace detaches for seconds: one SIGINT, the whole report", async () => {
  // Timed uprobes on libc functions a test never calls: detaching 86 of them takes seconds here
  // (a grace period each), the window in which a repeated SIGINT used to land in bpftrace's exit
  // dump. Every SIGINT bpftrace gets is seen by a second bpftrace.
  const libc = /\s(\/\S+\/libc\.so\.6)$/m.exec(Deno.readTextFileSync("/proc/self/maps"))![1]!;
  const spy = new Deno.Command(findBpftrace(), {
    args: [
      "-e",
      'tracepoint:signal:signal_generate /args->sig == 2/ { printf("%d\\n", args->pid); }',
    ],
    env: { [READY_MARK]: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const spyOut = new Response(spy.stdout).text();
  const spyErr = spy.stderr.pipeThrough(new TextDecoderStream()).getReader();
  assertMatch(await readUntil(spyErr, READY_MARK), new RegExp(READY_MARK));
  const stopSpy = async () => {
    try {
      spy.kill("SIGINT");
    } catch { /* ended */ }
    await spy.status;
    return await spyOut;
  };
  try {
    await withTestFs(SHAPE, async (fs) => {
      const dir = Deno.makeTempDirSync();
      const uprobes = ["inet*", "key_*"].flatMap((p) => ["--uprobe", `${libc}:${p}`]);
      const t = await spawnCli(["trace", "-m", fs.mountPoint, ...uprobes, "--csv", `${dir}/d.csv`]);
      const bpftrace = await bpftraceOf(t.child.pid);
      await stats(fs.mountPoint, 2);
      const t0 = Date.now();
      t.child.kill("SIGINT");
      const o = await t.finish();
      const s = (Date.now() - t0) / 1000;
      const signalled = (await stopSpy()).split("\n").filter((l) => l === String(bpftrace));
      assertEquals(o.status.code, 0, o.stderr);
      // A repeat would have come 3 s after the first SIGINT.
      assert(s > 3.2, `the stop took ${s} s: too quick to show a repeated SIGINT`);
      assertEquals(signalled.length, 1);
      assert(!/the trace ended/.test(o.stderr), o.stderr);
      assertEquals(lookupsIn(`${dir}/d.csv`), 3);
      Deno.removeSync(dir, { recursive: true });
    });
  } finally {
    await stopSpy();
  }
});

Deno.test("a traced mount that goes away (lazy unmount) ends the trace, said", async () => {
  await withTestFs(SHAPE, async (fs) => {
    const t = await spawnCli(["trace", "-m", fs.mountPoint]);
    await stats(fs.mountPoint, 2);
    await new Deno.Command("fusermount3", { args: ["-u", "-z", fs.mountPoint] }).output();
    const o = await t.finish(); // no Ctrl-C: it ends by itself
    assertEquals(o.status.code, 0, o.stderr);
    assertMatch(o.stderr, new RegExp(`the trace ended: ${fs.mountPoint} was unmounted at`));
    assertMatch(o.stdout, /LOOKUP\s+3/);
  });
});

Deno.test("mount paths with newlines and escapes reach the terminal escaped", async () => {
  const at = `${Deno.makeTempDirSync()}/evil\n\x1b[31mname`;
  await withTestFs(SHAPE, async (fs) => {
    const doctor = await runCli(["doctor"]);
    assert(doctor.stdout.includes("evil\\n\\x1b[31mname  type fuse.testfs"), doctor.stdout);
    assert(!doctor.stdout.includes("\x1b"));
    const t = await spawnCli(["trace", "-m", fs.mountPoint, "-d", "2s"]);
    await stats(fs.mountPoint, 1);
    const o = await t.finish();
    assert(o.stdout.includes("evil\\n\\x1b[31mname:"), o.stdout);
    assert(!o.stdout.includes("\x1b"));
  }, at);
});

Deno.test("a symbol that is not an identifier never reaches the program", async () => {
  const dir = await buildStub();
  const lib = `${Deno.makeTempDirSync()}/libevil.so`;
  const evil = 'fuse_reply_xattr{printf("PWNED\\n");exit();}BEGIN';
  const o = await new Deno.Command("objcopy", {
    args: ["--add-symbol", `${evil}=.text:0,global,function`, `${dir}/libcvmfs_fuse3.so.2.99`, lib],
    stderr: "piped",
  }).output();
  assert(o.success, new TextDecoder().decode(o.stderr));
  const symbols = uprobeSymbols(findBpftrace(), lib, "*");
  assert(symbols.length > 5, "the library's own symbols are listed");
  assert(!symbols.some((s) => s.includes("{")), symbols.join(" "));
  const r = await runCli(["trace", "--uprobe", `${lib}:fuse_reply_*`, "--print-program"]);
  assert(!r.stdout.includes("PWNED"), r.stdout);
  assertMatch(r.stderr, /1 symbol\(s\) skipped: not plain identifiers/);
});

Deno.test("a stopped daemon's mount: --print-program and doctor answer at once", async () => {
  await withTestFs(SHAPE, async (fs) => {
    Deno.kill(fs.pid, "SIGSTOP");
    try {
      const t0 = Date.now();
      const p = await runCli(["trace", "-m", `${fs.mountPoint}/./x/..`, "--print-program"]);
      assertEquals(p.code, 0, p.stderr);
      const d = await runCli(["doctor"]);
      assertMatch(d.stdout, /daemon pid \?: no process replied to that mount's statfs\(\)/);
      assert(Date.now() - t0 < 15_000, `${Date.now() - t0} ms`);
    } finally {
      Deno.kill(fs.pid, "SIGCONT");
    }
  });
});

Deno.test("the traced mount's daemon killed (-9): the trace ends and says so", async () => {
  await withSquashfs({ dirs: 1, subdirs: 1, filesPerDir: 3 }, async (m) => {
    const t = await spawnCli(["trace", "-m", m.mountPoint]);
    for (const f of m.layout.files) await Deno.stat(`${m.mountPoint}/${f}`);
    m.daemon.kill("SIGKILL");
    const o = await t.finish(); // no Ctrl-C: it ends by itself
    assertEquals(o.status.code, 0, o.stderr);
    assertMatch(o.stderr, /the trace ended: the daemon of .* is gone \(the kernel aborted its/);
    assertMatch(o.stdout, /LOOKUP\s+5\s/);
  });
});
