/**
 * The README's CernVM-FS section, every command as typed, against the real client: the test
 * repository mounted at /cvmfs/sft.cern.ch, its objects 5 ms away, the cache empty for the first
 * trace. Between the traces the kernel's caches are dropped, as the section says; `cvmfs.csv` is
 * this client's `cvmfs_talk latency`. What the section claims of the cold run is checked too.
 */
import { assert, assertEquals, assertMatch, root } from "../_helpers.ts";
import { CVMFS, CVMFS_SECTION, readmeCommands, runAsTyped, section } from "../_readme.ts";
import { isFuse, parseMountinfo } from "../../probes/mounts.ts";
import { type Fetch, unavailable, withPythonClient } from "./harness.ts";

const commands = readmeCommands(section(Deno.readTextFileSync(`${root}README.md`), CVMFS_SECTION));
const mounted = parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo"))
  .some((m) => m.mountPoint === CVMFS && isFuse(m.fsType));
const why = unavailable() ?? (mounted ? `${CVMFS} is mounted here already` : undefined);
if (why) console.error(`cvmfs README test skipped: ${why}`);

Deno.test({
  name: "README CernVM-FS: every command runs as typed on the real client, its claims hold",
  ignore: why !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withPythonClient("sft.cern.ch", { delayMs: 5 }, async (c, http) => {
      assert(commands.length >= 5, `${commands.length} commands`);
      const dir = Deno.makeTempDirSync({ prefix: "fusetrace-readme-cvmfs-" });
      try {
        const out = new Map<string, string>();
        let cold: Fetch[] = [];
        for (const cmd of commands) {
          assertEquals(cmd.skip, undefined, cmd.line);
          if (/ --csv (cold|warm)\.csv /.test(cmd.command)) {
            Deno.writeTextFileSync("/proc/sys/vm/drop_caches", "3");
            http.takeLog();
          }
          if (cmd.command.includes("--cvmfs-latency cvmfs.csv")) {
            Deno.writeTextFileSync(`${dir}/cvmfs.csv`, await c.talk("latency"));
          }
          const r = await runAsTyped(cmd, dir);
          assertEquals(r.code, 0, `${cmd.command}\n${r.stderr}`);
          assert((r.stdout + r.stderr).trim(), `${cmd.command}: no output`);
          out.set(cmd.command, r.stdout);
          if (cmd.command.includes("--csv cold.csv")) cold = http.takeLog();
        }
        const of = (re: RegExp) => [...out].find(([k]) => re.test(k))![1];
        // The cold run: a download per object the server sent, each inside an OPEN.
        const objects = cold.filter((f) => f.path.includes("/data/")).length;
        assert(objects > 20, `${objects} objects`);
        const coldOut = of(/--csv cold\.csv/);
        for (const row of ["uprobe:download", "open:cvmfs_open fetching"]) {
          assertMatch(coldOut, new RegExp(`^${row}\\s+${objects}\\s`, "m"));
        }
        assertMatch(coldOut, new RegExp(`^OPEN\\s+${objects}\\s`, "m"));
        assertMatch(of(/^fusetrace doctor/), /CernVM-FS repository sft\.cern\.ch/);
        assertMatch(of(/^fusetrace diff/), /OPEN .*improvement/);
        assertMatch(of(/--cvmfs-latency/), /power-of-two bins/);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    }),
});
