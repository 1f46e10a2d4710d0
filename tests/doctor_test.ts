import { type Capabilities, detectCapabilities } from "../probes/capabilities.ts";
import { formatDiagnosis } from "../probes/doctor.ts";
import { assert, assertEquals, assertMatch, runCli, withSquashfs } from "./_helpers.ts";

Deno.test("doctor finds the mount, its connection and daemon pid; exit 0 here", async () => {
  await withSquashfs({ dirs: 1, subdirs: 1, filesPerDir: 1 }, async (m) => {
    const r = await runCli(["doctor"]);
    assertEquals(r.code, 0, r.stderr);
    const minor = Number(
      Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
        .find((l) => l.split(" ")[4] === m.mountPoint)!.split(" ")[2]!.split(":")[1],
    );
    assert(
      r.stdout.includes(
        `${m.mountPoint}  type fuse.squashfuse  connection ${minor}  daemon pid ${m.daemon.pid}`,
      ),
      r.stdout,
    );
    assert(r.stdout.includes("[ok] fuse request tracepoints"));
    // What doctor claims follows what this machine has (the kernel matrix checks it attaches).
    const caps = detectCapabilities();
    assert(r.stdout.includes(`[${caps.kprobes ? "ok" : "--"}] kprobes`), r.stdout);
    if (!caps.kprobes && !caps.fentry) {
      assert(r.stdout.includes("costs: no kernel callback timing"), r.stdout);
    }
    assert(r.stdout.includes("request source: yes"));
    assert(r.stdout.includes("Tracing is possible."));
  });
});

Deno.test("doctor without bpftrace: the checklist says how to get it; exit 1", async () => {
  const r = await runCli(["doctor"], { env: { FUSETRACE_BPFTRACE: "/nonexistent/bpftrace" } });
  assertEquals(r.code, 1, r.stderr);
  assert(r.stdout.includes("[--] bpftrace: FUSETRACE_BPFTRACE"), r.stdout);
  assert(
    r.stdout.includes("apt-get install bpftrace") && r.stdout.includes("dnf install bpftrace"),
  );
  assert(r.stdout.includes("Tracing is NOT possible here."));
});

Deno.test("doctor: missing fentry is the kernel's limit where BTF is there, not bpftrace's", () => {
  const caps = JSON.parse(
    Deno.readTextFileSync(new URL("testdata/capabilities/this-machine-6.18.json", import.meta.url)),
  ) as Capabilities;
  const fentryFix = (c: Capabilities) => {
    const lines = formatDiagnosis(c, "/usr/bin/bpftrace", { mounts: [], ioUring: [] }).text
      .split("\n");
    const at = lines.findIndex((l) => /^\[--\] fentry/.test(l));
    return lines.slice(at, at + 3).join("\n");
  };
  assertEquals([caps.btf, caps.fentry], [true, false]);
  const withBtf = fentryFix(caps);
  assertMatch(withBtf, /get it: the kernel: it has BTF but lets no fentry program attach/);
  assert(!/install bpftrace/.test(withBtf), withBtf);
  assertMatch(fentryFix({ ...caps, btf: false }), /get it: a kernel with BTF/);
});
