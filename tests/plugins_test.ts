/** The plugin contract: registry, ownership among the selected, the builder, sections, JSON. */
import {
  builtinPlugins,
  builtinRegistry,
  compose,
  Decoder,
  definePlugin,
  dialectFor,
  loadRun,
  lookup,
  negative,
  type NegativeSection,
  other,
  PluginRegistry,
  readJson,
  renderSection,
  type Report,
  requesters,
  type RequestersSection,
  sizes,
  type SizesSection,
  splitKey,
  UsageError,
  type Version,
  writeCsv,
  writeJson,
} from "../mod.ts";
import { assert, assertEquals, assertThrows } from "./_helpers.ts";
import readers from "../examples/plugins/readers.ts";

const V17: Version = [0, 17, 0];

Deno.test("registry: defaults are the timing plugins; unknown names listed; one name, one plugin", () => {
  const r = builtinRegistry();
  assertEquals(r.select().map((p) => p.name), builtinPlugins.map((p) => p.name));
  assertEquals(r.select(["negative", "lookup"]).map((p) => p.name), ["negative", "lookup"]);
  assertThrows(
    () => r.select(["nope"]),
    (e: Error) =>
      e instanceof UsageError &&
      /Unknown plugin "nope"; valid plugins: lookup, .*negative/.test(e.message),
  );
  const twin = definePlugin({ name: "lookup", description: "another", opcodes: [1] });
  assertThrows(
    () => r.add(twin, "my.ts"),
    /"lookup" \(my\.ts\) has the name of one already known \(built-in\)/,
  );
  assertEquals(new PluginRegistry().select(), []);
  // "default": the timing plugins, beside analyses named: --plugins default,negative.
  assertEquals(
    r.select(["default", "negative", "lookup"]).map((p) => p.name),
    [...builtinPlugins.map((p) => p.name), "negative"],
  );
  assertThrows(
    () => r.add(definePlugin({ name: "default", description: "x", opcodes: [1] }), "my.ts"),
    /"default" names the default plugins/,
  );
});

Deno.test("ownership among the selected plugins only", () => {
  const mine = definePlugin({ name: "mine", description: "LOOKUP my way", opcodes: [1] });
  const c = compose({ version: V17, plugins: [mine], known: [...builtinPlugins, mine] });
  assertEquals(c.opcodePlugin.get(1), "mine", "lookup is not selected: opcode 1 is free");
  assertThrows(() => compose({ version: V17, plugins: [lookup, mine] }), /both claim opcode 1/);
  // `other` takes only what no known plugin lists, whoever is selected.
  const o = compose({ version: V17, plugins: [mine, other], known: [...builtinPlugins, mine] });
  assertEquals(o.opcodePlugin.get(3), undefined, "GETATTR is listed by getattr: not other's");
  assertEquals(o.otherPlugin, "other");
});

Deno.test("an analysis observes its opcodes, named after the plugin that lists them", () => {
  const c = compose({ version: V17, plugins: [sizes], known: builtinPlugins });
  assertEquals([...c.opcodePlugin], [[15, "read"], [16, "write"]]);
  assert(c.program.includes("$m = (uint64)0x18000;"), "only READ and WRITE traced");
});

Deno.test("builder: filters and probe arguments in the dialect of each bpftrace version", () => {
  const p = (v: Version) =>
    compose({ version: v, plugins: [readers], known: builtinPlugins }).program;
  assert(p(V17).includes("tracepoint:fuse:fuse_request_send /args->opcode == 15/"), p(V17));
  assert(p([0, 23, 0]).includes("tracepoint:fuse:fuse_request_send /args.opcode == 15/"));
  assert(p(V17).includes("@readers__comms[comm] = count();"));
  // Maps of plugins are printed at each snapshot and decoded for their parser.
  const c = compose({ version: V17, plugins: [readers], intervalMs: 1000 });
  assert(c.program.includes("print(@readers__sizes);"));
  assertEquals(c.pluginMaps?.get("@readers__sizes"), { plugin: "readers", name: "sizes", keys: 2 });
  assertEquals(dialectFor([0, 19, 0]).arg("len"), "args.len");
  assertEquals(dialectFor(V17).user("u32", "$p + 4"), "*uptr((uint32 *)($p + 4))");
  assertEquals(dialectFor([0, 20, 0]).kernelProbes(true), ["fentry", "fexit"]);
  assertEquals(dialectFor(V17).kernelProbes(true), ["kfunc", "kretfunc"]);
});

Deno.test("builder: hooks of a source not in the program are left out; bad names refused", () => {
  const c = compose({ version: V17, plugins: [lookup, negative], known: builtinPlugins });
  assert(!c.program.includes("@negative__names"), "no daemon source: nothing of negative");
  const bad = definePlugin({ name: "bad", description: "x", program: (b) => void b.map("No-Way") });
  assertThrows(() => compose({ version: V17, plugins: [bad] }), /invalid map name "No-Way"/);
  assertThrows(
    () => definePlugin({ name: "x", description: "", opcodes: [1], observes: [0] }),
    /opcode 0/,
  );
  assertThrows(
    () =>
      definePlugin({ name: "x", description: "", opcodes: [1], sources: ["kernel" as "daemon"] }),
    /unknown source "kernel"/,
  );
});

Deno.test("map keys: a string field is the last and keeps its commas", () => {
  assertEquals(splitKey("1,2,a,b.py", 3), ["1", "2", "a,b.py"]);
  assertEquals(splitKey("7", 1), ["7"]);
  assertEquals(splitKey("1,2", 3), ["1", "2"]);
});

/** Decodes a hand-written exit dump of a program with the analyses. */
function decodeAnalyses(lines: object[]): Report {
  const composed = compose({
    version: V17,
    plugins: [lookup, negative, requesters, sizes],
    known: builtinPlugins,
    daemons: [{ pid: 9, connection: 42 }],
  });
  const d = new Decoder({
    composed,
    mountOf: (c) => (c === 42 ? "/cvmfs/sft.cern.ch" : `conn:${c}`),
    meta: { host: "h", kernel: "k", tool: "t", bpftrace: "0.17.0", start: "s", durationS: 1 },
    plugins: [lookup, negative, requesters, sizes],
    top: 2,
  });
  d.push(JSON.stringify({ type: "printf", data: "fusetrace:end\n" })); // the exit dump follows
  for (const l of lines) d.push(JSON.stringify(l));
  return d.finish();
}

Deno.test("sections: negative names with parent paths and requesters, top N", () => {
  const r = decodeAnalyses([
    {
      type: "map",
      data: {
        // conn, node, parent, name: lib (node 5) in the root, python3.11 (node 9) in lib
        "@negative__dirs": { "42,5,1,lib": 1, "42,9,5,python3.11": 1 },
        "@negative__names": {
          "42,9,100,0,json.cpython-311-x86_64-linux-gnu.so": 3,
          "42,9,101,0,json.cpython-311-x86_64-linux-gnu.so": 2,
          "42,1,100,2,a,b": 1,
          "42,77,100,0,x.py": 1,
        },
        "@negative__comms": { "100,python3": 5, "101,pip": 2 },
      },
    },
  ]);
  const s = r.sections!.negative as NegativeSection;
  assertEquals([s.total, s.enoent, s.zeroNodeid, s.distinct], [7, 1, 6, 3]);
  assertEquals(s.names.length, 2, "--top 2");
  assertEquals(s.names[0], {
    mount: "/cvmfs/sft.cern.ch",
    parent: "lib/python3.11",
    parentNode: "9",
    name: "json.cpython-311-x86_64-linux-gnu.so",
    kind: "zero-nodeid",
    count: 5,
    requesters: [{ pid: 100, comm: "python3", count: 3 }, { pid: 101, comm: "pip", count: 2 }],
  });
  // From the kernel, directories are dentry addresses: beyond 2^53, kept exact.
  const k = decodeAnalyses([{
    type: "map",
    data: {
      "@negative__dirs": { "42,18446619390230741504,1,lib": 1 },
      "@negative__names": { "42,18446619390230741504,100,1,x.py": 2 },
    },
  }]).sections!.negative as NegativeSection;
  assertEquals(k.names.map((n) => [n.parent, n.name, n.kind, n.count]), [
    ["lib", "x.py", "negative", 2],
  ]);
  assertEquals([k.total, k.enoent, k.zeroNodeid], [2, 0, 0]);
  // A name with a comma, in the root; then a directory looked up before tracing.
  const all = decodeAnalyses([{
    type: "map",
    data: { "@negative__names": { "42,1,100,2,a,b": 1, "42,77,100,0,x.py": 1 } },
  }]).sections!.negative as NegativeSection;
  assertEquals(all.names.map((n) => [n.parent, n.name, n.kind]), [
    ["", "a,b", "ENOENT"],
    [null, "x.py", "zero-nodeid"],
  ]);
  assertEquals(
    renderSection(negative, all, 5).split("\n").slice(2).map((l) => l.split(/\s+/)[0]),
    ["/cvmfs/sft.cern.ch/a,b", "/cvmfs/sft.cern.ch/<node"],
  );
  // Exported per mount and kind, every name counted (not only the top ones).
  assertEquals(negative.metrics!(all)[0]!.samples, [
    { labels: { mount: "/cvmfs/sft.cern.ch", kind: "ENOENT" }, value: 1 },
    { labels: { mount: "/cvmfs/sft.cern.ch", kind: "zero-nodeid" }, value: 1 },
  ]);
});

Deno.test("sections: requesters and sizes from their maps", () => {
  const r = decodeAnalyses([{
    type: "map",
    data: {
      "@requesters__requests": { "100,1,python3": 10, "200,1,ls": 4, "300,1,cat": 1 },
      "@requesters__time": { "100": 5000, "200": 9000, "300": 1 },
      "@requesters__errors": { "100": 3 },
      "@sizes__hist": { "42,15,0": 1, "42,15,13": 4, "42,16,1": 2 },
      "@sizes__bytes": { "42,15": 20000, "42,16": 2 },
    },
  }]);
  const q = r.sections!.requesters as RequestersSection;
  assertEquals(q.distinct, 3);
  assertEquals(
    q.processes.map((p) => [p.pid, p.comm, p.requests, p.errors, p.sumNs]),
    [[200, "ls", 4, 0, 9000], [100, "python3", 10, 3, 5000]],
  );
  const z = r.sections!.sizes as SizesSection;
  assertEquals(z.histograms.map((h) => [h.operation, h.count, h.bytes]), [
    ["READ", 5, 20000],
    ["WRITE", 2, 2],
  ]);
  assertEquals(z.histograms[0]!.buckets, [
    { from: 0, to: 0, count: 1 },
    { from: 4096, to: 8192, count: 4 },
  ]);
});

Deno.test("JSON report: the whole Report round-trips; diff reads it; bad files refused", () => {
  const r = decodeAnalyses([{
    type: "map",
    data: {
      "@lat": { "1,42,1,300": 2, "1,42,1,310": 1 },
      "@st": { "1,42,1": { count: 3, average: 1100, total: 3300 } },
      "@err": { "1,42,1,2": 1 },
      "@requesters__requests": { "100,1,python3": 3 },
    },
  }]);
  r.command = { argv: ["python3", "-c", "import json"], wallMs: 412, status: 0 };
  const text = writeJson(r);
  const o = JSON.parse(text);
  assertEquals([o.format, o.version], ["fusetrace-report", 1]);
  assertEquals(o.totals, [{
    mount: "/cvmfs/sft.cern.ch",
    source: "request",
    requests: 3,
    sumNs: 3300,
    waitedRequests: 3,
    waitedNs: 3300,
  }]);
  assertEquals(o.rows[0].summary.timed, 3);
  const back = readJson(text, "r.json");
  assertEquals(writeCsv(back), writeCsv(r), "rows, histograms and metadata survive");
  assertEquals(back.sections, JSON.parse(JSON.stringify(r.sections)));
  assertEquals(back.command, r.command);
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/r.json`, text);
    assertEquals(loadRun(`${dir}/r.json`).rows.length, 1);
    const bad = (content: string, re: RegExp) => {
      Deno.writeTextFileSync(`${dir}/bad.json`, content);
      assertThrows(
        () => loadRun(`${dir}/bad.json`),
        (e: Error) => e instanceof UsageError && re.test(e.message),
      );
    };
    bad("{ nope", /bad\.json: not valid JSON/);
    bad(JSON.stringify({ ...o, version: 2 }), /version 2; this fusetrace reads version 1/);
    bad(JSON.stringify({ ...o, format: "x" }), /not a fusetrace JSON report/);
    bad(
      JSON.stringify({ ...o, rows: [{ ...o.rows[0], count: -1 }] }),
      /row 1: count is not a non-negative integer/,
    );
    bad(JSON.stringify({ ...o, rows: [o.rows[0], o.rows[0]] }), /row 2: a second row/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
