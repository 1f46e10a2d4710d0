/**
 * The README as a tested contract: every command in its shell blocks runs as typed (through
 * `sh`, with `fusetrace` on the PATH as the quick start leaves it) and must exit 0 with output;
 * commands that run until Ctrl-C get a workload and a Ctrl-C. Commands marked "(not run by the
 * tests: …)" are listed by name, never dropped silently. The library snippet runs as a script;
 * the plugin of "Writing a plugin" is examples/plugins/readers.ts (run by analyses_live_test).
 * `/cvmfs/sft.cern.ch` is the real thing where it is mounted, else testfs mounted there. The
 * CernVM-FS section runs against the real client, in tests/cvmfs/readme_test.ts.
 */
import { isFuse, parseMountinfo, spawnTestFs } from "../mod.ts";
import { assert, assertEquals, root } from "./_helpers.ts";
import {
  CVMFS,
  CVMFS_SECTION,
  readmeCommands,
  runAsTyped,
  section,
  withoutSection,
} from "./_readme.ts";

/** The README less its CernVM-FS section, whose commands tests/cvmfs/readme_test.ts runs. */
const README = withoutSection(Deno.readTextFileSync(`${root}README.md`), CVMFS_SECTION);

/** The code of the README's ```ts blocks. */
function readmeScripts(text: string): string[] {
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

Deno.test("README: the marked commands are few, and every one says why", () => {
  const cmds = readmeCommands(README);
  assert(cmds.length >= 25, `${cmds.length} commands found`);
  for (const c of cmds) {
    assert(/^(fusetrace|npx -y deno@2 task) /.test(c.command), `a command users type: ${c.line}`);
  }
  const skipped = cmds.filter((c) => c.skip);
  assert(skipped.length <= 8, skipped.map((c) => c.command).join("\n"));
  // "Writing a plugin" shows the shipped example, complete.
  const plugin = readmeScripts(README).find((s) => s.includes('name: "readers"'));
  assertEquals(plugin, Deno.readTextFileSync(`${root}examples/plugins/readers.ts`));
});

Deno.test({
  name: "README: every shell command runs as typed, exit 0, with output; the library snippet too",
  ignore: Deno.uid() !== 0,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "fusetrace-readme-" });
    const made: string[] = []; // directories this test created, removed at the end
    const exists = (p: string) => {
      try {
        Deno.statSync(p);
        return true;
      } catch {
        return false;
      }
    };
    const mkdir = (d: string) => {
      const missing: string[] = []; // deepest first
      for (let p = d; p !== "" && !exists(p); p = p.replace(/\/[^/]+$/, "")) missing.push(p);
      Deno.mkdirSync(d, { recursive: true });
      made.push(...missing);
    };
    const demoCsvs = ["fusetrace_demo_1.csv", "fusetrace_demo_2.csv"].map((f) => root + f)
      .filter((f) => !exists(f));
    const real = parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo"))
      .some((m) => m.mountPoint === CVMFS && isFuse(m.fsType));
    mkdir(CVMFS);
    mkdir("/mnt/t"); // the testfs examples' mount point: an empty directory
    const fs = real ? undefined : await spawnTestFs(CVMFS, { files: 300, depth: 2, fanout: 3 });
    try {
      // What the diff examples compare: runs of this machine, the original tool's file, a plugin.
      const trace = await runAsTyped(
        { line: "", command: `fusetrace trace -m ${CVMFS} --csv a.csv -- ls -R ${CVMFS}` },
        dir,
      );
      assertEquals(trace.code, 0, trace.stderr);
      for (const f of ["before", "after", "b", "a1", "a2", "a3", "b1", "b2", "b3"]) {
        Deno.copyFileSync(`${dir}/a.csv`, `${dir}/${f}.csv`);
      }
      Deno.copyFileSync(
        `${root}tests/testdata/cvmfs_talk_latency.csv`,
        `${dir}/cvmfs_latency.csv`,
      );
      Deno.writeTextFileSync(
        `${dir}/fuse_calls_count_20190801-120000`,
        "ADDR,FUNC,COUNT\n18446744072639419956,fuse_lookup,12\n",
      );
      Deno.writeTextFileSync(
        `${dir}/my_plugin.ts`,
        Deno.readTextFileSync(`${root}examples/plugins/readers.ts`)
          .replace(`"../../mod.ts"`, `"${root}mod.ts"`),
      );
      const ran: string[] = [];
      const skipped: string[] = [];
      for (const c of readmeCommands(README)) {
        if (c.skip) {
          skipped.push(`${c.command}  (${c.skip})`);
          continue;
        }
        if (c.command === "npx -y deno@2 task test") {
          skipped.push(`${c.command}  (this test suite)`);
          continue;
        }
        const r = await runAsTyped(c, c.command.startsWith("npx") ? root : dir);
        assertEquals(r.code, 0, `${c.command}\n${r.stderr}`);
        assert((r.stdout + r.stderr).trim(), `${c.command}: no output`);
        ran.push(c.command);
        if (c.command === "npx -y deno@2 task demo") {
          // Where the user is, the demo's CSVs are, for the diff that follows.
          for (const f of ["fusetrace_demo_1.csv", "fusetrace_demo_2.csv"]) {
            Deno.copyFileSync(root + f, `${dir}/${f}`);
          }
        }
      }
      // The library snippet, as a script of the user's.
      const snippet = readmeScripts(README).find((s) => s.includes('from "./mod.ts"'))!;
      Deno.writeTextFileSync(`${dir}/lib.ts`, snippet.replace(`"./mod.ts"`, `"${root}mod.ts"`));
      const lib = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}/lib.ts`],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(lib.stdout);
      assertEquals(lib.code, 0, new TextDecoder().decode(lib.stderr));
      assert(/LOOKUP|no LOOKUP in 5 s/.test(out) && /requests on /.test(out), out);
      console.log(`ran ${ran.length} README commands and the library snippet`);
      console.log(`not run (marked in the README):\n  ${skipped.join("\n  ")}`);
      const cvmfs = readmeCommands(
        section(Deno.readTextFileSync(`${root}README.md`), CVMFS_SECTION),
      );
      console.log(
        `not run here: the ${cvmfs.length} commands of "${CVMFS_SECTION}", on the real client ` +
          "by tests/cvmfs/readme_test.ts (deno task test:cvmfs)",
      );
    } finally {
      await fs?.close();
      for (const d of made) {
        try {
          Deno.removeSync(d);
        } catch { /* not empty: not ours to remove */ }
      }
      for (const f of demoCsvs) if (exists(f)) Deno.removeSync(f); // the quick start's demo
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
