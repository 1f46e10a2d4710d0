/**
 * The README as a tested contract: every command in its shell blocks runs as typed (through
 * `sh`, with `fusetrace` on the PATH as the quick start leaves it) and must exit 0 with output;
 * commands that run until Ctrl-C get a workload and a Ctrl-C. Commands marked "(not run by the
 * tests: …)" are listed by name, never dropped silently. The library snippet runs as a script;
 * the plugin of "Writing a plugin" is examples/plugins/readers.ts (run by analyses_live_test).
 * `/cvmfs/sft.cern.ch` is the real thing where it is mounted, else testfs mounted there.
 */
import { isFuse, parseMountinfo, spawnTestFs } from "../mod.ts";
import { assert, assertEquals, readRest, readUntil, root } from "./_helpers.ts";

const README = Deno.readTextFileSync(`${root}README.md`);
const CVMFS = "/cvmfs/sft.cern.ch";
const SKIP = /\(not run by the tests: ([^)]*)\)/;

/** One command of a shell block, its trailing comment apart. */
interface ReadmeCommand {
  line: string;
  command: string;
  skip?: string;
}

/** The commands of the README's ```sh blocks. */
export function readmeCommands(text: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split("\n")) {
      if (!line.trim()) continue;
      const m = /^(.*?)(\s+#\s.*)?$/.exec(line)!;
      const skip = SKIP.exec(m[2] ?? "")?.[1];
      out.push({ line, command: m[1]!.trim(), ...(skip ? { skip } : {}) });
    }
  }
  return out;
}

/** The code of the README's ```ts blocks. */
function readmeScripts(text: string): string[] {
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

/**
 * Commands that run until Ctrl-C: a trace with neither a duration nor a command, testfs, serve;
 * what they print once they run.
 */
function untilCtrlC(command: string): string | undefined {
  if (/^fusetrace testfs /.test(command)) return "testfs mounted at";
  if (/^fusetrace serve\b/.test(command)) return "fusetrace serve: tracing";
  if (!/^fusetrace trace\b/.test(command)) return undefined;
  if (/\s(-d|--duration|--print-program|--ebpf|--list-plugins|--help)\b|\s--\s/.test(command)) {
    return undefined;
  }
  return "Hit Ctrl-C to end.";
}

const lister = () =>
  new Deno.Command("ls", { args: ["-R", CVMFS], stdout: "null", stderr: "null" }).output();

/** Runs one command as typed in `cwd`; its status and output. */
async function runAsTyped(c: ReadmeCommand, cwd: string) {
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${c.command}`],
    cwd,
    env: { NO_COLOR: "1", PATH: `/usr/local/bin:${Deno.env.get("PATH")}` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const marker = untilCtrlC(c.command);
  let stderr: Promise<string>;
  if (marker) {
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const head = await readUntil(err, marker);
    const rest = readRest(err);
    await lister();
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    stderr = rest.then((more) => head + more);
  } else stderr = new Response(child.stderr).text();
  const status = await child.status;
  return { code: status.code, stdout: await stdout, stderr: await stderr };
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
