/**
 * The analyses live, with exact numbers: which names are missing (testfs answering ENOENT, and
 * answering the CVMFS way with node id 0), which process asked, which sizes were read, and how
 * much of a real Python start-up from squashfuse FUSE took.
 */
import {
  buildTree,
  detectCapabilities,
  errorCount,
  findRow,
  type NegativeSection,
  type OpRow,
  type Report,
  type RequestersSection,
  type SizesSection,
  unavailable,
} from "../mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  root,
  runCli,
  traced,
  withPythonSquashfs,
  withTestFs,
} from "./_helpers.ts";

const caps = Deno.uid() === 0 ? detectCapabilities() : undefined;
/** The analyses need the request source and the daemon's (with its connection read in BTF). */
const live = !!caps && !unavailable("request", caps) && !unavailable("daemon", caps);
const TREE = { files: 40, depth: 2, fanout: 2, seed: 3 };

/** Runs a command to its end; its pid. */
async function runAs(cmd: string, args: string[]): Promise<number> {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn();
  await child.status;
  return child.pid;
}

/**
 * One statfs() first: a daemon thread already blocked in read() when the probes attach delivers
 * its next request unseen by the daemon's side (counted, not named); statfs is never cached.
 */
const primeDaemon = (mnt: string) => runAs("stat", ["-f", mnt]);

const requestTotal = (r: Report, f: (row: OpRow) => number) =>
  r.rows.filter((x) => x.source === "request").reduce((s, x) => s + f(x), 0);

for (const cvmfsWay of [false, true]) {
  Deno.test({
    name: `negative + requesters: missing names answered ${
      cvmfsWay ? "with node id 0 (CVMFS's way, cached)" : "ENOENT (not cached)"
    }, with parent paths and requesters, exact`,
    ignore: !live,
    async fn() {
      const tree = buildTree(TREE);
      const dirs = tree.dirs.filter((d) => d.includes("/")).slice(0, 2); // two levels deep
      assertEquals(dirs.length, 2);
      await withTestFs({ ...TREE, negativeEntries: cvmfsWay }, async (fs) => {
        const mnt = fs.mountPoint;
        const names = ["json.cpython-311-x86_64-linux-gnu.so", "json.abi3.so", "json.py"];
        let a = 0, b = 0;
        const r = await traced({
          mounts: [mnt],
          plugins: ["lookup", "negative", "requesters"],
        }, async () => {
          await primeDaemon(mnt);
          // A stats each missing name under two directories, three times; B two names at the root.
          const missing = dirs.flatMap((d) => names.map((n) => `${mnt}/${d}/${n}`));
          a = await runAs("stat", [...missing, ...missing, ...missing]);
          b = await runAs("stat", [`${mnt}/nope`, `${mnt}/nope`, `${mnt}/zilch`, `${mnt}/zilch`]);
        });
        const s = r.sections!.negative as NegativeSection;
        const each = cvmfsWay ? 1 : 3; // a cached negative entry spares the next lookups
        const expected = [
          ...dirs.flatMap((d) =>
            names.map((n) => [d, n, each, [{ pid: a, comm: "stat", count: each }]])
          ),
          ["", "nope", cvmfsWay ? 1 : 2, [{ pid: b, comm: "stat", count: cvmfsWay ? 1 : 2 }]],
          ["", "zilch", cvmfsWay ? 1 : 2, [{ pid: b, comm: "stat", count: cvmfsWay ? 1 : 2 }]],
        ];
        const got = s.names.map((n) => [n.parent, n.name, n.count, n.requesters]);
        const key = (x: unknown[]) => `${x[0]}/${x[1]}`;
        assertEquals(
          got.sort((x, y) => key(x).localeCompare(key(y))),
          expected.sort((x, y) => key(x).localeCompare(key(y))),
        );
        assert(s.names.every((n) => n.kind === (cvmfsWay ? "zero-nodeid" : "ENOENT")));
        assert(s.names.every((n) => n.mount === mnt));
        const lookup = findRow(r, { source: "request", operation: "LOOKUP" })!;
        // The daemon's side (names) and the kernel's (request errors) agree.
        assertEquals(s.enoent, lookup.errors[2] ?? 0);
        assertEquals(s.total, cvmfsWay ? 8 : 22);
        // Requesters: every request of the trace, by process; A's and B's errors are their names.
        const q = r.sections!.requesters as RequestersSection;
        assertEquals(
          q.processes.reduce((n, p) => n + p.requests, 0),
          requestTotal(r, (x) => x.count),
        );
        assertEquals(q.processes.reduce((n, p) => n + p.errors, 0), requestTotal(r, errorCount));
        const of = (pid: number) => q.processes.find((p) => p.pid === pid)!;
        assertEquals([of(a).comm, of(b).comm], ["stat", "stat"]);
        assertEquals([of(a).errors, of(b).errors], cvmfsWay ? [0, 0] : [18, 4]);
        assert(of(a).sumNs > 0 && of(a).requests >= (cvmfsWay ? 6 : 18));
      });
    },
  });
}

Deno.test({
  name: "sizes: READ replies of known files, by power-of-two bucket, exact",
  ignore: !live,
  async fn() {
    const tree = buildTree(TREE);
    await withTestFs(TREE, async (fs) => {
      const mnt = fs.mountPoint;
      const sizesOf = (f: string) =>
        tree.nodes[f.split("/").reduce((ino, n) => tree.nodes[ino]!.children.get(n)!, 1)]!.size;
      const files = tree.files.filter((f) => sizesOf(f) <= 65536).slice(0, 8);
      assert(files.length >= 4, "small files in the tree");
      const r = await traced({ mounts: [mnt], plugins: ["sizes"] }, async () => {
        for (const f of files) await Deno.readFile(`${mnt}/${f}`);
      });
      const s = r.sections!.sizes as SizesSection;
      const want = new Map<number, number>();
      for (const f of files) {
        const size = sizesOf(f)!;
        const from = size ? 2 ** Math.floor(Math.log2(size)) : 0;
        want.set(from, (want.get(from) ?? 0) + 1);
      }
      assertEquals(s.histograms.map((h) => [h.mount, h.operation]), [[mnt, "READ"]]);
      const h = s.histograms[0]!;
      assertEquals(h.buckets.map((b) => [b.from, b.count]), [...want].sort((x, y) => x[0] - y[0]));
      assertEquals(h.count, files.length, "one READ per file");
      assertEquals(h.bytes, files.reduce((n, f) => n + sizesOf(f)!, 0));
      assertEquals(h.bytes, findRow(r, { source: "request", operation: "READ" })!.bytesOut);
    });
  },
});

Deno.test({
  name:
    "a Python start-up from squashfuse: which names, which processes, how much of it (CLI, --json)",
  ignore: !live,
  async fn() {
    await withPythonSquashfs(async (mnt) => {
      const dir = Deno.makeTempDirSync({ prefix: "fusetrace-py-report-" });
      const imports = "import json, email.parser, http.client, urllib.request, xml.dom.minidom";
      // `stat -f` first: see primeDaemon().
      const o = await runCli([
        "trace",
        "-m",
        mnt,
        "--plugins",
        "lookup,getattr,open,read,readdir,release,negative,requesters,sizes",
        "--json",
        `${dir}/r.json`,
        "--",
        "sh",
        "-c",
        `stat -f ${mnt} >/dev/null && PYTHONPATH=${mnt} exec python3 -c "${imports}"`,
      ]);
      assertEquals(o.code, 0, o.stderr);
      const j = JSON.parse(Deno.readTextFileSync(`${dir}/r.json`));
      Deno.removeSync(dir, { recursive: true });
      assertEquals(j.command.argv[0], "sh");
      assert(j.command.wallMs > 0);
      const rows = (j.rows as OpRow[]).filter((x) => x.source === "request");
      const sum = (f: (x: OpRow) => number) => rows.reduce((n, x) => n + f(x), 0);
      const background = ["RELEASE", "RELEASEDIR", "FORGET", "BATCH_FORGET"];
      const waited = rows.filter((x) => !background.includes(x.operation));
      assertEquals(j.totals, [{
        mount: mnt,
        source: "request",
        requests: sum((x) => x.count),
        sumNs: sum((x) => x.sumNs),
        waitedRequests: waited.reduce((n, x) => n + x.count, 0),
        waitedNs: waited.reduce((n, x) => n + x.sumNs, 0),
      }]);
      assert(waited.length < rows.length, "RELEASEs in the background");
      const neg = j.sections.negative as NegativeSection;
      const lookup = rows.find((x) => x.operation === "LOOKUP")!;
      assert(neg.total > 0, "Python probed names the mount does not have");
      assertEquals(
        [neg.enoent, neg.zeroNodeid],
        [lookup.errors[2], 0],
        "squashfuse answers ENOENT",
      );
      assert(neg.names.some((n) => /^(json|email|http)/.test(n.name) || n.parent !== null));
      const q = j.sections.requesters as RequestersSection;
      assertEquals(q.processes.reduce((n, p) => n + p.requests, 0), sum((x) => x.count));
      assert(q.processes.some((p) => /^python/.test(p.comm)), JSON.stringify(q.processes));
      const sz = j.sections.sizes as SizesSection;
      const read = rows.find((x) => x.operation === "READ")!;
      assertEquals(sz.histograms.map((h) => [h.count, h.bytes]), [[read.count, read.bytesOut]]);
      // The terminal: sections and the total beside the command's wall time.
      assertMatch(o.stdout, /Negative lookups: \d+ \(ENOENT \d+, zero-nodeid 0\)/);
      assertMatch(o.stdout, /Requesters: \d+ processes/);
      assertMatch(o.stdout, /READ sizes on /);
      assertMatch(
        o.stdout,
        new RegExp(
          `FUSE requests traced on ${mnt}: processes waited \\S+ \\(\\d+ requests\\); \\S+ with ` +
            `\\d+ in the background \\(RELEASE, RELEASEDIR, FORGET\\) — of a \\S+ run of sh`,
        ),
      );
    });
  },
});

Deno.test({
  name: "a plugin file outside the repository: loaded by the CLI, listed, its section shown",
  ignore: !live,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "fusetrace-plugin-" }); // no deno.json here
    const file = `${dir}/readers.ts`;
    Deno.writeTextFileSync(
      file,
      Deno.readTextFileSync(`${root}examples/plugins/readers.ts`)
        .replace(`"../../mod.ts"`, `"${root}mod.ts"`),
    );
    const list = await runCli(["trace", "--plugin-file", file, "--list-plugins"]);
    assertEquals(list.code, 0, list.stderr);
    assertMatch(list.stdout, new RegExp(`readers\\s+analysis\\s+yes\\s+${file}`));
    assertMatch(list.stdout, /negative\s+analysis\s+no\s+built-in/);
    await withTestFs(TREE, async (fs) => {
      const tree = buildTree(TREE);
      const files = tree.files.slice(0, 3).map((f) => `${fs.mountPoint}/${f}`);
      const o = await runCli([
        "trace",
        "-m",
        fs.mountPoint,
        "--plugins",
        "lookup",
        "--plugin-file",
        file,
        "--",
        "cat",
        ...files,
      ]);
      assertEquals(o.code, 0, o.stderr);
      assertMatch(o.stdout, /^cat: 3 READ requests$/m);
    });
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test({
  name: "--top N above 20 keeps N entries of a section (CLI, --json)",
  ignore: !live,
  async fn() {
    await withTestFs(TREE, async (fs) => {
      const json = Deno.makeTempFileSync({ suffix: ".json" });
      const names = Array.from({ length: 30 }, (_, i) => `${fs.mountPoint}/missing${i}`);
      const r = await runCli([
        "trace",
        "-m",
        fs.mountPoint,
        "--plugins",
        "lookup,negative",
        "--top",
        "25",
        "--json",
        json,
        "--",
        "sh",
        "-c",
        `stat ${names.join(" ")} 2>/dev/null; true`,
      ]);
      assertEquals(r.code, 0, r.stderr);
      const s = (JSON.parse(Deno.readTextFileSync(json)) as Report).sections!
        .negative as NegativeSection;
      assertEquals([s.total, s.distinct, s.names.length], [30, 30, 25]);
      assertMatch(r.stdout, /\(top 25 of 30\)/);
      Deno.removeSync(json);
    });
  },
});
