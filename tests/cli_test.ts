import { builtinPlugins } from "../plugins/mod.ts";
import { assert, assertEquals, assertMatch, runCli } from "./_helpers.ts";

/** One line on stderr, exit 2, no stack trace, nothing on stdout. */
function assertUsageError(r: { code: number; stdout: string; stderr: string }, re: RegExp) {
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assertMatch(r.stderr, re);
  assert(!/\bat .*:\d+:\d+/.test(r.stderr), "no stack trace");
  assertEquals(r.stdout, "");
}

Deno.test("bad input: one line, exit 2", async () => {
  const names = builtinPlugins.map((p) => p.name).join(", ");
  assertUsageError(
    await runCli(["trace", "--plugins", "lookup,nosuch"]),
    new RegExp(`Unknown plugin "nosuch"; valid plugins: ${names}`),
  );
  assertUsageError(await runCli(["trace", "-d", "10 parsecs"]), /Invalid duration "10 parsecs"/);
  assertUsageError(await runCli(["trace", "-d", "-5s"]), /Invalid duration|option/);
  assertUsageError(await runCli(["trace", "-i", "0"]), /Invalid interval "0"/);
  assertUsageError(await runCli(["trace", "--pid", "abc"]), /Invalid pid "abc"/);
  assertUsageError(await runCli(["trace", "--source", "magic"]), /Unknown source "magic"/);
  assertUsageError(await runCli(["trace", "-m", "/nonexistent/x"]), /Cannot read mount/);
  assertUsageError(await runCli(["trace", "-m", "/tmp"]), /"\/tmp" is not on a FUSE mount/);
  assertUsageError(await runCli(["trace", "--bogus"]), /unknown option '--bogus'/);
  assertUsageError(await runCli(["trace", "--uprobe", "nocolon"]), /Invalid --uprobe "nocolon"/);
  assertUsageError(
    await runCli(["trace", "--uprobe", "/nonexistent:f*"]),
    /Cannot read "\/nonexistent"/,
  );
  assertUsageError(await runCli(["trace", "--daemon", "bogus"]), /Unknown daemon preset "bogus"/);
  assertUsageError(
    await runCli(["trace", "--slow", "soon"]),
    /Invalid slow-request threshold "soon"/,
  );
  assertUsageError(
    await runCli(["trace", "--daemon-pid", "1"]),
    /needs exactly one --mount|No daemon/,
  );
  assertUsageError(await runCli(["nosuchcommand"]), /unknown command/);
  // serve: every address, file and bound checked before it traces.
  for (
    const [args, re] of [
      [["--listen", "host:99999"], /Invalid --listen "host:99999"/],
      [["--textfile", "/tmp/x.txt"], /reads \*\.prom files only/],
      [["--textfile", "/nonexistent/dir/x.prom"], /--textfile/],
      [
        ["--buckets-per-octave", "3"],
        /Invalid --buckets-per-octave "3": one of 1, 2, 4, 8, 16, 32/,
      ],
      [["--no-listen"], /--no-listen needs --textfile/],
      [["-i", "0s"], /Invalid interval "0s"/],
      [["--plugins", "nosuch"], /nosuch/],
    ] as const
  ) {
    assertUsageError(await runCli(["serve", ...args]), re);
  }
  assertUsageError(await runCli(["report"]), /missing required argument 'runs'/);
  assertUsageError(await runCli(["report", "/nonexistent.csv"]), /nonexistent\.csv: cannot read/);
  // Empty, huge and malformed values are refused before anything runs.
  for (
    const [args, re] of [
      [["-d", ""], /Invalid duration ""/],
      [["--csv", ""], /Invalid --csv "": give a file name/],
      [["--plugins", ","], /Invalid --plugins ",": name at least one plugin/],
      [["-d", "99999999999999999999999s"], /Invalid duration .*longer than 365 days/],
      [["-d", "1.2.3s"], /Invalid duration "1.2.3s"/],
      [["-p", "99999999999999999999"], /Invalid pid .* up to 4194304/],
      [["-p", "4294967296"], /Invalid pid "4294967296"/],
      [["--slow", "99999999999999s"], /Invalid slow-request threshold .*longer than 1 days/],
      [["--map-keys", "4294967296"], /Invalid --map-keys "4294967296": .* up to 16777216/],
      [
        ["--comm", "a-name-of-16-chr"],
        /Invalid --comm "a-name-of-16-chr": a command name is 1 to 15/,
      ],
      [["--comm", "a\x01b"], /Invalid --comm "a\?b"/],
      [
        ["--csv", "/nonexistent/dir/x.csv"],
        /Cannot write --csv "\/nonexistent\/dir\/x.csv": \/nonexistent\/dir: no such directory/,
      ],
      [["--csv", "/tmp"], /Cannot write --csv "\/tmp": not a regular file/],
      [["--json", "/tmp"], /Cannot write --json "\/tmp": not a regular file/],
      [["--top", "0"], /Invalid --top "0"/],
      [["--format", "xml"], /argument 'xml' is invalid/],
      [["--format", "json", "-i", "1s"], /--format json prints one report at the end/],
      [
        ["--plugins", "negative", "--source", "request"],
        /Plugin "negative" needs the daemon source: add --source daemon/,
      ],
      [["--plugin-file", "/nonexistent.ts"], /--plugin-file \/nonexistent.ts: no such file/],
      [["--sample", "3"], /Invalid --sample "3": a power of two from 2 to 1024, auto or auto:RATE/],
      [["--sample", "2048"], /Invalid --sample "2048"/],
      [["--sample", "auto:0"], /Invalid --sample auto:RATE \(requests per second\) "0"/],
      [["--sample", "auto:fast"], /Invalid --sample auto:RATE \(requests per second\) "fast"/],
      [["--sample", "auto", "--slow", "10ms"], /--slow logs every slow request: it cannot be/],
    ] as [string[], RegExp][]
  ) assertUsageError(await runCli(["trace", ...args]), re);
  assertUsageError(
    await runCli(["serve", "--sample", "auto"]),
    /--sample auto: serve's histograms are counters, .*give serve --sample N/,
  );
  // Plugin files that cannot be loaded, export nothing, or take a known name.
  const dir = Deno.makeTempDirSync();
  for (
    const [text, re] of [
      ["export default {", /--plugin-file .*broken\.ts: cannot load it: .*/],
      ["export const x = 1;", /--plugin-file .*broken\.ts: exports no plugin/],
      [
        'export default { name: "lookup", description: "mine", opcodes: [1] };',
        /--plugin-file .*broken\.ts: Plugin "lookup" .* has the name of one already known/,
      ],
      [
        'export default { name: "Bad", description: "x", opcodes: [1] };',
        /--plugin-file .*broken\.ts: Invalid plugin name "Bad"/,
      ],
    ] as [string, RegExp][]
  ) {
    Deno.writeTextFileSync(`${dir}/broken.ts`, text);
    assertUsageError(await runCli(["trace", "--plugin-file", `${dir}/broken.ts`]), re);
  }
  Deno.removeSync(dir, { recursive: true });
  const none = await runCli([]);
  assertEquals(none.code, 2, "no arguments: the help, exit 2");
  assertMatch(none.stderr, /^Usage: fusetrace/);
  assertUsageError(
    await runCli(["trace"], { env: { FUSETRACE_BPFTRACE: "/nonexistent/bpftrace" } }),
    /FUSETRACE_BPFTRACE="\/nonexistent\/bpftrace" is not executable/,
  );
  assertUsageError(
    await runCli(["trace"], { env: { PATH: "/nonexistent" } }),
    /bpftrace not found on PATH; install it: apt-get install bpftrace .* dnf install bpftrace/,
  );
});

Deno.test("non-root: one line, exit 2", async () => {
  const home = Deno.makeTempDirSync();
  Deno.chmodSync(home, 0o777);
  const r = await runCli(["trace", "-d", "1s"], {
    uid: 65534,
    env: { DENO_DIR: home, HOME: home },
  });
  assertUsageError(r, /needs root/);
  // doctor blames the privileges, not tracefs; demo refuses before it creates anything.
  const d = await runCli(["doctor"], { uid: 65534, env: { DENO_DIR: home, HOME: home } });
  assertEquals(d.code, 1);
  assertMatch(d.stdout, /^\[--\] privileges: root$/m);
  assertMatch(d.stdout, /^\[--\] tracefs: not checked \(it needs root to be seen or mounted\)$/m);
  const tmp = () =>
    [...Deno.readDirSync("/tmp")].filter((e) => e.name.startsWith("fusetrace-demo-"));
  const before = tmp().length;
  const demo = await runCli(["demo", "--csv", `${home}/x`], {
    uid: 65534,
    env: { DENO_DIR: home, HOME: home },
  });
  assertUsageError(demo, /needs root/);
  assertEquals(tmp().length, before, "no temporary directory left");
  Deno.removeSync(home, { recursive: true });
});

Deno.test("--list-plugins and --print-program", async () => {
  const l = await runCli(["trace", "--list-plugins"]);
  assertEquals(l.code, 0);
  const lines = l.stdout.trim().split("\n");
  assertMatch(lines[0]!, /^PLUGIN\s+KIND\s+DEFAULT\s+FROM\s+DESCRIPTION$/);
  assertEquals(lines.length, 1 + builtinPlugins.length + 3, "timing plugins and three analyses");
  assertMatch(l.stdout, /^lookup\s+timing\s+yes\s+built-in\s+LOOKUP/m);
  assertMatch(l.stdout, /^requesters\s+analysis\s+no\s+built-in\s+requests, errors/m);
  const p = await runCli(["trace", "--print-program", "--plugins", "lookup", "-d", "5s"]);
  assertEquals(p.code, 0, p.stderr);
  assert(p.stdout.includes("tracepoint:fuse:fuse_request_send"));
  assert(p.stdout.includes("interval:ms:5000 { exit(); }"));
  assert(p.stdout.includes("$m = (uint64)0x2;"), "LOOKUP only");
});

Deno.test("--version names fusetrace, Deno and bpftrace; every command's help has examples; --ebpf", async () => {
  const v = await runCli(["--version"]);
  assertEquals(v.code, 0, v.stderr);
  assertMatch(
    v.stdout,
    /^fusetrace \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+, bpftrace (\d+\.\d+\.\d+|not found)\)\n$/,
  );
  for (const c of ["trace", "diff", "count", "doctor", "testfs", "bench", "demo", "install"]) {
    const h = await runCli([c, "--help"]);
    assertEquals(h.code, 0, h.stderr);
    assertMatch(h.stdout, new RegExp(`^Usage: fusetrace ${c}`));
    assertMatch(h.stdout, /\nExamples:\n {2}fusetrace /, `${c} --help has examples`);
  }
  const a = await runCli(["trace", "--ebpf", "--plugins", "lookup", "-d", "5s"]);
  const b = await runCli(["trace", "--print-program", "--plugins", "lookup", "-d", "5s"]);
  const own = (p: string) => p.replace(/tid == \d+/, "tid == PID"); // each run's own pid
  assertEquals([a.code, own(a.stdout)], [0, own(b.stdout)], "--ebpf is --print-program");
});

Deno.test("install: a launcher that runs from any directory, and a man page from the help", async () => {
  const prefix = Deno.makeTempDirSync({ prefix: "fusetrace-prefix-" });
  try {
    const r = await runCli(["install", "--prefix", prefix]);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stderr, new RegExp(`fusetrace installed: ${prefix}/bin/fusetrace`));
    const o = await new Deno.Command(`${prefix}/bin/fusetrace`, {
      args: ["trace", "--list-plugins"],
      cwd: "/",
      stdout: "piped",
    }).output();
    assert(o.success);
    assertMatch(new TextDecoder().decode(o.stdout), /^negative\s+analysis/m);
    const page = Deno.readTextFileSync(`${prefix}/share/man/man1/fusetrace.1`);
    assertMatch(page, /^\.TH FUSETRACE 1 /);
    assertMatch(page, /^\.SS trace$/m);
    assertMatch(page, /^ {2}fusetrace trace --ebpf --plugins lookup/m);
  } finally {
    Deno.removeSync(prefix, { recursive: true });
  }
});
