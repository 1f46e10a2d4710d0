/**
 * `deno task test:kernels`: the kernel matrix. Builds (or takes from the cache) a root image per
 * guest, boots them side by side under qemu with this working tree, runs tests/vm/guest_test.ts there with the
 * guest's own kernel and bpftrace, and prints one summary table and one
 * `kernels: N passed, N failed` line.
 *
 * Usage: deno run -A tests/vm/matrix.ts [GUEST …] [--timeout SECONDS]
 * @module
 */
import { type Guest, GUESTS } from "./guests.ts";
import { boot, exists, guestImage, sh } from "./vm.ts";
import { stageUring, URING_BUILD_TOOLS } from "./uring.ts";
import { pythonRepository, unavailable as cvmfsUnavailable } from "../cvmfs/harness.ts";
import { ensureTools } from "../../demo/squashfs.ts";
import { UsageError } from "../../util/errors.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Stages the payload disk: the working tree (with node_modules), Deno, its cache, the script. */
async function stage(g: Guest): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix: `fusetrace-vm-${g.name}-` });
  const files = (await sh("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT }))
    .split("\n").filter((f) => f && !f.startsWith("bench/results/"));
  Deno.mkdirSync(`${dir}/repo`);
  await sh("tar", [
    "-C",
    ROOT,
    "-cf",
    `${dir}/repo.tar`,
    "node_modules",
    ...files.filter((f) => exists(ROOT + f)),
  ]);
  await sh("tar", ["-C", `${dir}/repo`, "-xf", `${dir}/repo.tar`]);
  Deno.removeSync(`${dir}/repo.tar`);
  Deno.mkdirSync(`${dir}/bin`);
  Deno.copyFileSync(Deno.execPath(), `${dir}/bin/deno`);
  Deno.chmodSync(`${dir}/bin/deno`, 0o755);
  const info = JSON.parse(await sh(Deno.execPath(), ["info", "--json"])) as { denoDir: string };
  // Deno's cache may change while it is copied (another deno on this machine): copy again.
  for (let i = 1;; i++) {
    try {
      await sh("cp", ["-a", info.denoDir, `${dir}/deno-dir`]);
      break;
    } catch (e) {
      if (i === 3) throw e;
      await sh("rm", ["-rf", `${dir}/deno-dir`]);
    }
  }
  Deno.copyFileSync(`${ROOT}tests/vm/guest.sh`, `${dir}/run.sh`);
  Deno.writeTextFileSync(`${dir}/guest`, g.name);
  Deno.writeTextFileSync(`${dir}/filter`, filter);
  Deno.writeTextFileSync(`${dir}/modules`, g.modules.join(" "));
  return dir;
}

/**
 * The real CernVM-FS client for a guest of this machine's Debian release: the client built here
 * (payload/cvmfs: bin/, lib/ without debug info) and the tests' repository made here
 * (payload/cvmfs-repo: srv/, the public key). Without the source, nothing (the guest test is
 * then ignored, and says why).
 */
async function stageCvmfs(payload: string, log: (s: string) => void): Promise<void> {
  const why = cvmfsUnavailable();
  if (why) {
    log(`no CernVM-FS client for the guest: ${why}`);
    return;
  }
  const { prefix, repo } = await pythonRepository("test.local");
  await sh("cp", ["-a", prefix, `${payload}/cvmfs`]);
  for (const f of Deno.readDirSync(`${payload}/cvmfs/lib`)) {
    if (f.isFile) await sh("strip", ["--strip-debug", `${payload}/cvmfs/lib/${f.name}`]);
  }
  for (const f of Deno.readDirSync(`${payload}/cvmfs/bin`)) {
    if (f.name === "cvmfs_swissknife") Deno.removeSync(`${payload}/cvmfs/bin/${f.name}`);
    else await sh("strip", ["--strip-debug", `${payload}/cvmfs/bin/${f.name}`]);
  }
  Deno.mkdirSync(`${payload}/cvmfs-repo`);
  await sh("cp", ["-a", repo.srv, `${payload}/cvmfs-repo/srv`]);
  Deno.copyFileSync(repo.pub, `${payload}/cvmfs-repo/${repo.fqrn}.pub`);
}

/** Only the guest tests whose name holds this (`--filter`). */
let filter = "";

/** One guest's outcome. */
interface Outcome {
  guest: Guest;
  kernel: string;
  bpftrace: string;
  passed: number;
  failed: number;
  summary: Record<string, string>;
  seconds: number;
  problem?: string;
}

async function runGuest(g: Guest, timeoutS: number): Promise<Outcome> {
  const t0 = Date.now();
  const log = (s: string) => console.error(`[${g.name}] ${s}`);
  const image = await guestImage(g, log);
  const payload = await stage(g);
  try {
    if (g.uring) await stageUring(g, payload, log);
    if (g.cvmfs) await stageCvmfs(payload, log);
    log(`booting ${image.release}, bpftrace ${image.bpftrace}`);
    const opts = {
      timeoutS,
      onLine: (l: string) => {
        if (/^(fusetrace-guest|.* \.\.\. (ok|FAILED))/.test(l)) log(l);
      },
    };
    let r = await boot(g, image, payload, opts);
    // Emulated kernels now and then oops (int3 in text patching under TCG: while booting, or in
    // the scheduler's idle path mid-run — seen on sid, 1 run in 4): a panicked guest reports no
    // result, so it is booted once more from a fresh payload disk, and said.
    if (/Kernel panic/.test(r.console)) {
      log("the kernel panicked under emulation; booting again");
      r = await boot(g, image, payload, opts);
    }
    const test = r.out["test.log"] ?? "";
    Deno.writeTextFileSync(`${payload}.console.log`, r.console);
    Deno.writeTextFileSync(`${payload}.test.log`, test);
    Deno.writeTextFileSync(`${payload}.capabilities.json`, r.out["capabilities.json"] ?? "");
    log(`logs: ${payload}.{console,test}.log, capabilities: ${payload}.capabilities.json`);
    const m = /(\d+) passed[^\d]+(\d+) failed/.exec(test.split("\n").reverse().join("\n"));
    const summary = JSON.parse(r.out["summary.json"] ?? "{}") as Record<string, string>;
    const problem = r.timedOut
      ? `timed out after ${timeoutS} s (console: ${payload}.console.log)`
      : !m
      ? `no test result (console: ${payload}.console.log)`
      : undefined;
    if (m && Number(m[2]) > 0) {
      for (const l of test.split("\n").filter((l) => /FAILED|error|Error/.test(l))) log(l);
    }
    return {
      guest: g,
      kernel: image.release,
      bpftrace: image.bpftrace,
      passed: m ? Number(m[1]) : 0,
      failed: m ? Number(m[2]) : 1,
      summary,
      seconds: (Date.now() - t0) / 1000,
      ...(problem ? { problem } : {}),
    };
  } finally {
    Deno.removeSync(payload, { recursive: true });
  }
}

const COLUMNS: [string, string][] = [
  ["source", "source picked"],
  ["counts", "counts exact?"],
  ["timed", "all timed?"],
  ["p50", "p50 vs injected"],
  ["count", "count ok?"],
  ["goldens", "golden programs"],
  ["io_uring", "FUSE over io_uring"],
  ["python", "Python start-up"],
  ["analyses", "analyses"],
  ["auto", "--sample auto"],
  ["cvmfs", "real CernVM-FS"],
];

function table(outcomes: Outcome[]): string {
  const head = ["guest", "kernel", "bpftrace", ...COLUMNS.map((c) => c[1]), "tests", "duration"];
  const rows = outcomes.map((o) => [
    o.guest.name,
    o.kernel,
    o.bpftrace,
    ...COLUMNS.map(([k]) => o.summary[k] ?? "-"),
    o.problem ? `FAILED: ${o.problem}` : `${o.passed} passed, ${o.failed} failed`,
    `${Math.round(o.seconds)} s`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd();
  return [fmt(head), ...rows.map(fmt)].join("\n");
}

if (import.meta.main) {
  const args = [...Deno.args];
  const ti = args.indexOf("--timeout");
  // Nine minutes was the longest guest seen (Debian 12, three guests on two cores): room for it.
  const timeoutS = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 900;
  // --filter TEXT: only the guest tests whose name holds TEXT (deno test --filter), to iterate.
  const fi = args.indexOf("--filter");
  filter = fi >= 0 ? args.splice(fi, 2)[1] ?? "" : "";
  const names = args.length ? args : GUESTS.map((g) => g.name);
  const unknown = names.filter((n) => !GUESTS.some((g) => g.name === n));
  if (unknown.length || !(timeoutS > 0)) {
    console.error(
      `Unknown guest ${unknown.join(", ")}; guests: ${GUESTS.map((g) => g.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  try {
    await ensureTools(console.error, {
      "qemu-system-x86_64": "qemu-system-x86",
      mmdebstrap: "mmdebstrap",
      debugfs: "e2fsprogs",
      "mkfs.ext4": "e2fsprogs",
      ...(GUESTS.some((g) => g.uring && names.includes(g.name)) ? URING_BUILD_TOOLS : {}),
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`test:kernels: ${e.message}`);
    Deno.exit(2);
  }
  // The guests run side by side: emulated CPUs wait on memory more than on the host's cores.
  const outcomes = await Promise.all(
    GUESTS.filter((x) => names.includes(x.name)).map((g) =>
      runGuest(g, timeoutS).catch((e): Outcome => ({
        guest: g,
        kernel: "?",
        bpftrace: "?",
        passed: 0,
        failed: 1,
        summary: {},
        seconds: 0,
        problem: (e as Error).message.split("\n")[0]!,
      }))
    ),
  );
  console.log(table(outcomes));
  const passed = outcomes.reduce((s, o) => s + o.passed, 0);
  const failed = outcomes.reduce((s, o) => s + o.failed, 0);
  console.log(`kernels: ${passed} passed, ${failed} failed`);
  Deno.exit(failed ? 1 : 0);
}
