import { compose, type ComposeOptions, type KernelFunction } from "../probes/compose.ts";
import {
  detectCapabilities,
  findBpftrace,
  parseVersion,
  type Version,
} from "../probes/capabilities.ts";
import { dialectFor } from "../probes/dialect.ts";
import { resolveKernelFunctions } from "../probes/sources.ts";
import {
  builtinPlugins,
  lookup,
  negative,
  read,
  requesters,
  sizes,
  write,
} from "../plugins/mod.ts";
import { definePlugin } from "../probes/plugin.ts";
import { assert, assertEquals, assertGolden, assertThrows } from "./_helpers.ts";

/** Versions with a syntax change, and those the kernel matrix's guests run (0.17, 0.23, 0.27). */
const VERSIONS: Version[] = [
  [0, 16, 0],
  [0, 17, 0],
  [0, 19, 0],
  [0, 20, 0],
  [0, 22, 0],
  [0, 23, 0],
  [0, 24, 0],
  [0, 26, 0],
  [0, 27, 0],
];
const FUNCS: KernelFunction[] = [
  { plugin: "lookup", name: "fuse_lookup", symbol: "fuse_lookup" },
  { plugin: "read", name: "fuse_file_read_iter", symbol: "fuse_file_read_iter" },
];

const variants: Record<string, Omit<ComposeOptions, "version">> = {
  all: { plugins: builtinPlugins },
  filtered: {
    plugins: [lookup, read],
    known: builtinPlugins,
    connections: [39, 41],
    pid: 1234,
    comm: "python3",
    durationMs: 10_000,
    intervalMs: 1000,
    slowNs: 5_000_000,
  },
  // Kernel callbacks alone, as where there are no fuse tracepoints (EL9, Debian 12).
  kprobe: {
    plugins: [lookup, read],
    known: builtinPlugins,
    request: false,
    kernelFunctions: FUNCS,
  },
  fentry: {
    plugins: [lookup, read],
    known: builtinPlugins,
    request: false,
    kernelFunctions: FUNCS,
    fentry: true,
  },
  // The daemons' connections read from their /dev/fuse descriptors (evidence), two mounts; a read
  // that began before tracing from the saved user registers.
  split: {
    plugins: builtinPlugins,
    daemons: [{ pid: 4242 }, { pid: 4343 }],
    savedUserRegs: true,
    connections: [45, 46],
    intervalMs: 1000,
  },
  // Linux 6.12–6.17: requests paired by their pointer on the raw tracepoints (bpftrace ≥ 0.18);
  // the daemon given (--daemon-pid).
  pointer: {
    plugins: builtinPlugins,
    requestKey: "pointer",
    daemons: [{ pid: 4242, connection: 45 }],
    slowNs: 5_000_000,
  },
  // The analyses: negative (daemon's side), requesters and sizes (request source), by unique and
  // by pointer; the daemon given, so the guests run them without struct fuse_dev in BTF.
  analyses: {
    plugins: [lookup, read, write, negative, requesters, sizes],
    known: builtinPlugins,
    daemons: [{ pid: 4242, connection: 45 }],
    savedUserRegs: true,
    intervalMs: 1000,
  },
  "analyses-pointer": {
    plugins: [lookup, read, write, negative, requesters, sizes],
    known: builtinPlugins,
    requestKey: "pointer",
    daemons: [{ pid: 4242, connection: 45 }],
  },
  // negative from the kernel (kprobes on fuse_lookup_name), filtered, without fuse tracepoints.
  "negative-kprobe": {
    plugins: [lookup, negative],
    known: builtinPlugins,
    request: false,
    kernelFunctions: FUNCS,
    kprobeSymbols: ["fuse_lookup_name", "fuse_lookup"],
    connections: [45],
    comm: "python3",
  },
  // Linux 7.x: queue / served split at fuse:fuse_request_sent (also for io_uring daemons).
  sent: { plugins: builtinPlugins, sentSplit: true },
  // --sample 8: counted at send, 1 in 8 timed — at the end, the daemon's read and reply, and sent.
  sampled: {
    plugins: builtinPlugins,
    daemons: [{ pid: 4242 }],
    connections: [45],
    sample: 8,
  },
  "sampled-sent": { plugins: builtinPlugins, sentSplit: true, sample: 8 },
  // --sample auto: every request timed until 10 000 requests/s, then 1 in 8 (the program
  // switches itself, once a second it compares the rate). The daemon given: the guests run it
  // without struct fuse_dev in BTF.
  auto: {
    plugins: builtinPlugins,
    daemons: [{ pid: 4242, connection: 45 }],
    connections: [45],
    sample: 8,
    autoSampleRate: 10_000,
    intervalMs: 1000,
  },
  "auto-sent": { plugins: builtinPlugins, sentSplit: true, sample: 8, autoSampleRate: 10_000 },
  "daemon-only": {
    plugins: [lookup],
    known: builtinPlugins,
    request: false,
    daemons: [{ pid: 4242 }],
  },
};

for (const v of VERSIONS) {
  Deno.test(`golden programs for bpftrace ${v.join(".")}`, () => {
    for (const [name, o] of Object.entries(variants)) {
      if (o.requestKey === "pointer" && !dialectFor(v).rawTracepoints) {
        assertThrows(() => compose({ version: v, ...o }), /raw tracepoints/);
        continue;
      }
      assertGolden(`${name}-${v.join(".")}.bt`, compose({ version: v, ...o }).program);
    }
  });
}

Deno.test("--sample: 1 in N of every rhythm of requests, by the same condition at each probe", () => {
  const program = compose({ version: [0, 17, 0], plugins: builtinPlugins, sample: 8 }).program;
  const conds = [
    ...program.matchAll(/\(\(\(\(([\w$>-]+) >> 1\) \* (0x[0-9A-F]+)\) >> (\d+)\) & (\d+)\) == 0/g),
  ];
  assertEquals(conds.map((m) => m[1]), ["args->unique", "$k", "$k"], "send, end, unmatched");
  const [, , k, shift, mask] = conds[0];
  const timed = (unique: bigint) =>
    ((((unique >> 1n) * BigInt(k)) & 0xffffffffffffffffn) >> BigInt(shift) & BigInt(mask)) === 0n;
  // A client whose requests come in a rhythm of 2, 4 or 8 (LOOKUP, GETATTR, …): each place in it
  // is timed 1 in 8, not all or nothing as a plain `seq & 7` would have it.
  for (const period of [2, 4, 8]) {
    for (let phase = 0; phase < period; phase++) {
      let n = 0, hits = 0;
      for (let seq = phase; seq < 64_000; seq += period, n++) if (timed(BigInt(seq) * 2n)) hits++;
      assert(Math.abs(hits / n - 1 / 8) < 0.01, `period ${period} phase ${phase}: ${hits} of ${n}`);
    }
  }
});

Deno.test("opcode ownership: other takes what no plugin claims, duplicates are refused", () => {
  const c = compose({ version: [0, 17, 0], plugins: builtinPlugins });
  assertEquals(c.opcodePlugin.get(1), "lookup");
  assertEquals(c.opcodePlugin.get(44), "readdir");
  assertEquals(c.opcodePlugin.get(39), undefined); // IOCTL → other
  assertEquals(c.otherPlugin, "other");
  assert(!c.program.includes("$m ="), "all opcodes traced: no opcode filter");
  const dup = definePlugin({ name: "dup", description: "x", opcodes: [1] });
  assertThrows(() => compose({ version: [0, 17, 0], plugins: [lookup, dup] }), /both claim/);
});

Deno.test("definePlugin rejects bad names and attach points", () => {
  assertThrows(() => definePlugin({ name: "Bad", description: "", opcodes: [1] }), TypeError);
  assertThrows(() => definePlugin({ name: "x", description: "" }), /traces nothing/);
  assertThrows(
    () =>
      definePlugin({
        name: "x",
        description: "",
        probes: [{ operation: "a", enter: 'kprobe:f; system("x")', exit: "kretprobe:f" }],
      }),
    /invalid attach point/,
  );
});

let hereVersion: Version | undefined;

/** bpftrace's dry run: parse, semantic analysis and code generation, no attaching. */
async function dryRun(program: string): Promise<{ ok: boolean; err: string }> {
  const file = Deno.makeTempFileSync({ suffix: ".bt" });
  Deno.writeTextFileSync(file, program);
  const v = hereVersion ??= parseVersion(detectCapabilities().bpftrace)!;
  const o = await new Deno.Command(findBpftrace(), {
    args: dialectFor(v).dryRunArgs(file),
    stdout: "null",
    stderr: "piped",
  }).output();
  Deno.removeSync(file);
  return { ok: o.success, err: new TextDecoder().decode(o.stderr) };
}

Deno.test("every program variant compiles with this machine's bpftrace (dry run)", async () => {
  const caps = detectCapabilities();
  const here = resolveKernelFunctions(builtinPlugins, caps.functions);
  assert(here.found.length > 10, "this kernel's fuse functions resolve");
  const all: Record<string, Omit<ComposeOptions, "version">> = {
    ...variants,
    "kprobe-all-here": { plugins: builtinPlugins, kernelFunctions: here.found },
  };
  if (!caps.fentry) delete all.fentry; // kfunc programs need fentry support to compile
  if (!caps.rawTracepoints) {
    delete all.pointer;
    delete all["analyses-pointer"];
  }
  if (!caps.requestSent) {
    delete all.sent;
    delete all["sampled-sent"];
    delete all["auto-sent"];
  }
  for (const [name, o] of Object.entries(all)) {
    const r = await dryRun(compose({ version: parseVersion(caps.bpftrace)!, ...o }).program);
    assert(r.ok, `${name} does not compile:\n${r.err}`);
  }
  console.log(
    `note: kprobe programs compiled only; this machine has ${
      caps.kprobes ? "" : "no "
    }kprobes and ${caps.fentry ? "" : "no "}fentry, so they could not be attached here`,
  );
});

Deno.test("count program: golden, and compiles here (kprobes cannot attach on this machine)", async () => {
  const { composeCount } = await import("../probes/compose.ts");
  const fns = ["fuse_lookup", "fuse_getattr", "fuse_dev_do_read.isra.0"];
  assertGolden("count-0.17.0.bt", composeCount({ version: [0, 17, 0], functions: fns }).program);
  assertGolden("count-0.24.0.bt", composeCount({ version: [0, 24, 0], functions: fns }).program);
  const here = detectCapabilities().functions.filter((f) => !f.includes(".part."));
  const r = await dryRun(composeCount({ version: [0, 17, 0], functions: here }).program);
  assert(r.ok, r.err);
  console.log(
    `note: count program of ${here.length} functions compiled, not attached (no kprobes)`,
  );
});
