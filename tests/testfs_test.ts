/** testfs: the FUSE filesystem with known latencies, and the ground truth for accuracy. */
import { findRow, type Report, summarize } from "../probes/report.ts";
import { mountPoints } from "../probes/mounts.ts";
import { spawnTestFs } from "../testfs/spawn.ts";
import { buildTree, content } from "../testfs/tree.ts";
import type { TestFsOptions } from "../testfs/fs.ts";
import { walkStatRead } from "../demo/workload.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  runCli,
  spawnCli,
  traced,
  withTestFs,
} from "./_helpers.ts";

const SMALL = { depth: 2, fanout: 3, files: 90, sizeScale: 0.01 };

Deno.test("testfs serves the tree with verifiable content; counts are what the workload implies", async () => {
  await withTestFs(SMALL, async (fs) => {
    const tree = buildTree(SMALL);
    const r = await traced({ mounts: [fs.mountPoint] }, () => walkStatRead(fs.mountPoint));
    const c = (op: string) => findRow(r, { operation: op })?.count ?? 0;
    const files = tree.files.length;
    const dirs = tree.dirs.length;
    assertEquals([files, dirs], [90, 12]);
    assertEquals(c("LOOKUP"), files + dirs);
    assertEquals(c("OPEN"), files);
    assertEquals(c("FLUSH"), files);
    assertEquals(c("RELEASE"), files);
    assertEquals(c("OPENDIR"), dirs + 1);
    assertEquals(c("RELEASEDIR"), dirs + 1);
    const nonEmpty = tree.nodes.filter((n) => !n.dir && n.size > 0).length;
    assertEquals(c("READ"), nonEmpty, "small files: one READ each, none for empty files");
    const total = tree.nodes.filter((n) => !n.dir).reduce((s, n) => s + n.size, 0);
    assertEquals(findRow(r, { operation: "READ" })!.bytesOut, total);
    for (const [i, path] of tree.files.entries()) {
      if (i % 9) continue;
      const ino = tree.nodes.findIndex((n) => n.name === path.split("/").pop() && !n.dir);
      assertEquals(
        await Deno.readFile(`${fs.mountPoint}/${path}`),
        content(ino, 0, tree.nodes[ino]!.size),
      );
    }
  });
});

Deno.test("accuracy: reported p50 = injected service time + transit, within 5 %", async () => {
  const shape = { depth: 1, fanout: 2, files: 40, sizeScale: 0.01, attrTimeout: 0 };
  const work = async (mnt: string) => {
    for (const f of buildTree(shape).files) {
      await Deno.stat(`${mnt}/${f}`);
      await Deno.stat(`${mnt}/${f}`); // attr timeout 0: GETATTR
      await Deno.readFile(`${mnt}/${f}`);
    }
  };
  const p50 = (r: Report, source: string, op: string) =>
    summarize(findRow(r, { source: source as "request", operation: op })!).p50;
  const base = await withTestFs(
    shape,
    (fs) => traced({ mounts: [fs.mountPoint], sources: ["request"] }, () => work(fs.mountPoint)),
  );
  const injected = 20e6;
  const r = await withTestFs(
    {
      ...shape,
      latency: {
        lookup: { kind: "fixed", ms: 20 },
        getattr: { kind: "fixed", ms: 20 },
        read: { kind: "fixed", ms: 20 },
      },
    },
    (fs) =>
      traced(
        { mounts: [fs.mountPoint], sources: ["request", "daemon"] },
        () => work(fs.mountPoint),
      ),
  );
  for (const op of ["LOOKUP", "GETATTR", "READ"]) {
    const want = injected + p50(base, "request", op);
    const got = p50(r, "request", op);
    assert(Math.abs(got - want) / want <= 0.05, `${op} request p50 ${got} vs ${want}`);
    const service = p50(r, "daemon", op);
    assert(Math.abs(service - injected) / injected <= 0.05, `${op} daemon p50 ${service}`);
  }
});

Deno.test("slow requests overlap unless --single-thread", async () => {
  // One file per directory: this kernel serialises lookups within one directory.
  const shape = {
    depth: 1,
    fanout: 8,
    files: 8,
    latency: { lookup: { kind: "fixed" as const, ms: 150 } },
  };
  const burst = async (mnt: string) => {
    for (const d of buildTree(shape).dirs) await Deno.stat(`${mnt}/${d}`);
    const t = performance.now();
    await Promise.all(buildTree(shape).files.map((f) => Deno.stat(`${mnt}/${f}`)));
    return performance.now() - t;
  };
  const parallel = await withTestFs(shape, (fs) => burst(fs.mountPoint));
  const serial = await withTestFs({ ...shape, singleThread: true }, (fs) => burst(fs.mountPoint));
  assert(serial >= 8 * 150 - 10, `single-thread serves one at a time: ${serial} ms`);
  assert(parallel < serial / 2, `overlapping: ${parallel} ms vs ${serial} ms`);
});

Deno.test("injected errors are replied and counted exactly", async () => {
  const shape = { depth: 1, fanout: 1, files: 60, errors: { lookup: { errno: 5, p: 0.3 } } };
  await withTestFs(shape, async (fs) => {
    let failed = 0;
    const r = await traced({ mounts: [fs.mountPoint], plugins: ["lookup"] }, async () => {
      for (const f of buildTree(shape).files) {
        await Deno.stat(`${fs.mountPoint}/${f}`).catch(() => failed++);
      }
    });
    assert(failed > 5 && failed < 40, `${failed} of 60 failed`);
    assertEquals(findRow(r, { operation: "LOOKUP" })!.errors, { 5: failed });
  });
});

Deno.test("SIGTERM unmounts cleanly; a crash leaves a visible status and no stale mount", async () => {
  const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-testfs-" });
  const a = await spawnTestFs(mnt, { files: 5 });
  assert(mountPoints().includes(mnt));
  assertEquals((await a.close()).code, 0);
  assert(!mountPoints().includes(mnt));
  const b = await spawnTestFs(mnt, { files: 5 });
  Deno.kill(b.pid, "SIGKILL");
  const s = await b.status;
  assertEquals(s.signal, "SIGKILL");
  for (let i = 0; i < 50 && mountPoints().includes(mnt); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  assert(!mountPoints().includes(mnt), "auto_unmount removed the mount");
  Deno.removeSync(mnt);
});

Deno.test("testfs bad input: one line, exit 2", async () => {
  for (
    const [args, re] of [
      [["testfs", "/nonexistent"], /Mount point "\/nonexistent" is not a directory/],
      [["testfs", "/tmp", "--latency", "lookup=fast"], /Invalid latency "lookup=fast"/],
      [["testfs", "/tmp", "--latency", "mkdir=1ms"], /Unknown operation "mkdir"/],
      [["testfs", "/tmp", "--errors", "lookup=ENOENT"], /Invalid --errors "lookup=ENOENT"/],
      [["testfs", "/tmp", "--files", "-3"], /Invalid --files "-3"/],
    ] as const
  ) {
    const r = await runCli([...args]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr.trim(), re);
    assertEquals(r.stderr.trim().split("\n").length, 1);
  }
});

Deno.test("testfs in-process (library): served on this thread, used with async calls", async () => {
  const { mountTestFs } = await import("../testfs/fs.ts");
  const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-testfs-" });
  const fs = mountTestFs(mnt, { depth: 1, fanout: 2, files: 6 });
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(`${mnt}/sw1`)) names.push(e.name);
    assertEquals(names.sort(), ["f1.py", "f3.py", "f5.py"]);
    assertEquals(
      (await Deno.stat(`${mnt}/sw1/f3.py`)).size,
      fs.tree.nodes.find((n) => n.name === "f3.py")!.size,
    );
    assert((fs.served.lookup ?? 0) >= 2);
  } finally {
    await fs.close();
    Deno.removeSync(mnt);
  }
  assert(!mountPoints().includes(mnt));
});

Deno.test("a reply never comes before its injected time, on a busy machine too; lateness bounded", async () => {
  const { mountTestFs } = await import("../testfs/fs.ts");
  const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-testfs-" });
  const shape: TestFsOptions = {
    depth: 1,
    fanout: 2,
    files: 200,
    latency: { lookup: { kind: "fixed", ms: 0.2 } },
  };
  const fs = mountTestFs(mnt, shape);
  // Both cores busy, as on a loaded worker node.
  const busy = [0, 1].map(() =>
    new Deno.Command("sh", { args: ["-c", "while :; do :; done"] }).spawn()
  );
  try {
    for (const f of buildTree(shape).files) await Deno.stat(`${mnt}/${f}`);
  } finally {
    for (const b of busy) b.kill("SIGKILL");
    await Promise.all(busy.map((b) => b.status));
    await fs.close();
    Deno.removeSync(mnt);
  }
  const ms = [...fs.serviceMs.lookup!].sort((a, b) => a - b);
  assertEquals(ms.length, 202); // the files and their two directories
  assert(ms[0]! >= 0.2, `the fastest reply after ${ms[0]} ms`);
  assert(ms[ms.length >> 1]! < 0.2 + 2, `median ${ms[ms.length >> 1]} ms`);
});

Deno.test("--slow logs each request slower than the threshold, with its requester", async () => {
  const shape = {
    depth: 1,
    fanout: 1,
    files: 5,
    latency: { lookup: { kind: "fixed" as const, ms: 30 } },
  };
  await withTestFs(shape, async (fs) => {
    const t = await spawnCli(["trace", "-m", fs.mountPoint, "--slow", "20ms", "-d", "4s"]);
    const before = new Date().toTimeString().slice(0, 8);
    for (const f of buildTree(shape).files) {
      await new Deno.Command("stat", { args: [`${fs.mountPoint}/${f}`], stdout: "null" }).output();
    }
    const out = await t.finish();
    assertEquals(out.status.code, 0, out.stderr);
    const slow = out.stdout.split("\n").filter((l) => / SLOW /.test(l));
    assertEquals(slow.length, 6, out.stdout); // sw0 and 5 files; GETATTR, OPEN… are fast
    assert(slow.every((l) => l.slice(0, 8) >= before), "stamped when the requests ended");
    for (const l of slow) {
      assertMatch(
        l,
        new RegExp(
          // Time and command name from the kernel: stat has exited long before the print.
          `^\\d\\d:\\d\\d:\\d\\d\\.\\d{6} SLOW LOOKUP [\\d.]+ms ${fs.mountPoint} pid \\d+ \\(stat\\)$`,
        ),
      );
      // 30 ms injected: testfs never replies before it (the kernel's clock starts before
      // testfs's: ≥ 30 ms exactly); late by the scheduler, bounded.
      const ms = Number(/ ([\d.]+)ms /.exec(l)![1]);
      assert(ms >= 30 && ms < 40, l);
    }
  });
});

Deno.test("trace -- COMMAND: traces exactly while the command runs", async () => {
  const shape = { depth: 1, fanout: 2, files: 10, sizeScale: 0.01 };
  await withTestFs(shape, async (fs) => {
    const file = `${fs.mountPoint}/${buildTree(shape).files[3]}`;
    const r = await runCli(["trace", "-m", fs.mountPoint, "--", "cat", file]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, new RegExp(`while running cat ${file}\\.\\.\\. Hit Ctrl-C to end\\.`));
    const count = (op: string) => Number(new RegExp(`^${op}\\s+(\\d+)`, "m").exec(r.stdout)?.[1]);
    assertEquals([count("LOOKUP"), count("OPEN"), count("RELEASE")], [2, 1, 1]);
    const bad = await runCli(["trace", "--", "no-such-command-here"]);
    assertEquals(bad.code, 2);
    assertMatch(bad.stderr, /Cannot run "no-such-command-here": not found or not executable/);
  });
});
