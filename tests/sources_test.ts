import { builtinPlugins } from "../plugins/mod.ts";
import { type Capabilities, parseVersion } from "../probes/capabilities.ts";
import { compose } from "../probes/compose.ts";
import { chooseSources, resolveKernelFunctions, sourcesLabel } from "../probes/sources.ts";
import { assert, assertEquals, assertGolden, assertThrows, root } from "./_helpers.ts";

const dir = `${root}tests/testdata/capabilities`;
const machines: Record<string, string> = {
  "el7-3.10": "kernel/kprobe",
  "el8-4.18": "kernel/kprobe",
  "el9-5.14": "kernel/fentry",
  "ubuntu24.04-6.8": "kernel/fentry",
  // Recorded in the kernel matrix's guests (tests/vm): Debian 12, 13 and sid.
  "debian12-6.1": "kernel/fentry",
  "debian-sid-7.2": "request/unique",
  // 6.12–6.17 send unique 0: requests pair by their pointer (raw tracepoints) where bpftrace can.
  "debian13-6.12": "request/pointer",
  "el10-6.12": "request/pointer",
  "ubuntu25.04-6.14": "request/pointer",
  "ubuntu25.10-6.17": "request/pointer",
  "bookworm-backports-6.12": "kernel/fentry",
  "this-machine-6.18": "request/unique",
};

function load(name: string): Capabilities {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${name}.json`));
}

for (const [name, want] of Object.entries(machines)) {
  Deno.test(`recorded machine ${name}: auto picks ${want}; golden program`, () => {
    const caps = load(name);
    const s = chooseSources(["auto"], caps);
    assertEquals(sourcesLabel(s), want);
    const fns = resolveKernelFunctions(builtinPlugins, caps.functions);
    const c = compose({
      version: parseVersion(caps.bpftrace)!,
      plugins: builtinPlugins,
      request: s.request,
      requestKey: s.requestKey,
      kernelFunctions: s.kernel ? fns.found : [],
      fentry: s.fentry,
    });
    assertGolden(`machine-${name}.bt`, c.program);
    if (s.kernel) {
      assert(fns.found.some((f) => f.name === "fuse_lookup"));
      assertEquals(c.table.length, fns.found.length);
    }
  });
}

Deno.test("function tables resolve clones and list what a kernel lacks", () => {
  const r = resolveKernelFunctions(builtinPlugins, load("el8-4.18").functions);
  assert(
    r.found.some((f) => f.name === "fuse_create_open" && f.symbol === "fuse_create_open.isra.0"),
  );
  assert(r.missing.includes("read:fuse_read_folio"), "5.19+ only");
  assert(r.missing.includes("readlink:fuse_follow_link"), "< 4.5 only");
  const el7 = resolveKernelFunctions(builtinPlugins, load("el7-3.10").functions);
  assert(el7.found.some((f) => f.name === "fuse_follow_link"));
});

Deno.test("asking for a source a machine lacks is one clear error", () => {
  assertThrows(
    () => chooseSources(["kernel"], load("this-machine-6.18")),
    /allows neither kprobes nor fentry; available here: request, daemon$/,
  );
  assertThrows(
    () => chooseSources(["request"], load("el9-5.14")),
    /no fuse:fuse_request_\* tracepoints/,
  );
  assertThrows(
    () => chooseSources(["request"], load("bookworm-backports-6.12")),
    /sends unique 0 at fuse_request_send \(Linux 6\.12–6\.17\), and bpftrace 0\.17\.0 cannot pair/,
  );
  const both = chooseSources(["request", "kernel"], load("debian13-6.12"));
  assert(both.request && both.kernel && both.fentry);
  const noKprobes = { ...load("el7-3.10"), kprobes: false };
  assert(chooseSources(["auto"], noKprobes).daemon, "the daemon source needs only syscalls");
  const none = { ...noKprobes, syscallTracepoints: false };
  assertThrows(() => chooseSources(["auto"], none), /No FUSE source is available/);
  const split = chooseSources(["auto", "daemon"], load("this-machine-6.18"));
  assert(split.request && split.daemon && !split.kernel, "auto,daemon = the request split");
});

Deno.test("map size follows the trace: 4 096 keys for one source and mount, capped at 65 536", async () => {
  const { mapKeysFor } = await import("../probes/runner.ts");
  assertEquals(mapKeysFor(1, 1, 0), 4096);
  assertEquals(mapKeysFor(4, 1, 0), 8192); // request + queue/service/transit
  assertEquals(mapKeysFor(1, 10, 0), 32768); // ten CVMFS repositories
  assertEquals(mapKeysFor(4, 20, 0), 65536);
  assertEquals(mapKeysFor(1, 1, 40), 16384); // 40 kernel functions
});
