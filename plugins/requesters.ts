import { NO_REPLY, OPCODES } from "../probes/opcodes.ts";
import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";
import { fmtNs } from "../util/format.ts";

/** One requesting process. */
export interface Requester {
  pid: number;
  /** Command name at its requests (the first seen if it changed). */
  comm: string;
  /** cgroup v2 path (from its id), or `#ID` when no directory has that id any more. */
  cgroup: string;
  requests: number;
  /** Replies with an error. */
  errors: number;
  /** Summed latency of its timed requests, ns. */
  sumNs: number;
}

/** The `requesters` section of a report. */
export interface RequestersSection {
  /** Processes seen; `processes` holds the top ones by time, then requests. */
  distinct: number;
  processes: Requester[];
}

/**
 * Requests, errors and total latency by requesting process (pid, command, cgroup), from the request
 * source: who is hammering the mount.
 */
const plugin: ProbePlugin<RequestersSection> = definePlugin<RequestersSection>({
  name: "requesters",
  description: "requests, errors and total latency by requesting process (pid, comm, cgroup)",
  observes: Object.keys(OPCODES).map(Number).filter((op) => op < 64),
  sources: ["request"],
  byDefault: false,
  program(b) {
    const requests = b.map("requests", { keys: 3 });
    const time = b.map("time");
    const errors = b.map("errors");
    const who = b.map("who", { temporary: true });
    const w = b.local("w");
    const replied = [...NO_REPLY].map((op) => `$op != ${op}`).join(" && ");
    b.at("request.send", [
      `${requests}[pid, cgroup, comm] = count();`,
      `if (${replied}) { ${who}[$c, $k] = pid; }`,
    ]);
    b.at("request.end", [
      `${w} = ${who}[$c, $k];`,
      `delete(${who}[$c, $k]);`,
      `${time}[${w}] = sum($d);`,
      `if ($err != 0) { ${errors}[${w}] = count(); }`,
    ]);
  },
  parse(maps, ctx) {
    const byPid = new Map<number, Requester>();
    for (const e of maps.get("requests") ?? []) {
      const [pid = "0", cg = "0", comm = ""] = e.key;
      const r = byPid.get(Number(pid)) ??
        { pid: Number(pid), comm, cgroup: cgroupPath(cg), requests: 0, errors: 0, sumNs: 0 };
      r.requests += e.value;
      byPid.set(r.pid, r);
    }
    for (const e of maps.get("time") ?? []) {
      const r = byPid.get(Number(e.key[0]));
      if (r) r.sumNs += e.value;
    }
    for (const e of maps.get("errors") ?? []) {
      const r = byPid.get(Number(e.key[0]));
      if (r) r.errors += e.value;
    }
    const all = [...byPid.values()].sort((a, b) =>
      b.sumNs - a.sumNs || b.requests - a.requests || a.pid - b.pid
    );
    return { distinct: all.length, processes: all.slice(0, ctx.top) };
  },
  tables(s, o) {
    const shown = s.processes.slice(0, o.top);
    return [{
      title: `Requesters: ${s.distinct} processes`,
      head: ["PROCESS", "REQUESTS", "ERRORS", "TIME", "CGROUP"],
      rows: shown.map((r) => [
        `${r.comm}[${r.pid}]`,
        String(r.requests),
        String(r.errors),
        fmtNs(r.sumNs),
        r.cgroup,
      ]),
      ...(s.distinct > shown.length ? { note: `(top ${shown.length} of ${s.distinct})` } : {}),
    }];
  },
});
export default plugin;

/** cgroup id → path, as of the last walk of the hierarchy. */
const cgroups = new Map<string, string>();
/** When the hierarchy was last walked (ms): a cgroup made since is found by walking again. */
let walked = -Infinity;

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or …/unified on hybrid systems). */
function cgroup2Root(): string | undefined {
  try {
    for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
      const [left, right] = line.split(" - ");
      if (right?.startsWith("cgroup2 ")) return left!.split(" ")[4];
    }
  } catch { /* no procfs */ }
  return undefined;
}

/** Records every cgroup v2 directory's id (its inode number) and path. */
function walkCgroups(): void {
  walked = Date.now();
  const root = cgroup2Root();
  if (!root) return;
  const walk = (dir: string, rel: string, depth: number) => {
    try {
      cgroups.set(String(Deno.statSync(dir).ino), rel || "/");
      if (depth > 8) return;
      for (const e of Deno.readDirSync(dir)) {
        if (e.isDirectory) walk(`${dir}/${e.name}`, `${rel}/${e.name}`, depth + 1);
      }
    } catch { /* gone, or not cgroup v2 */ }
  };
  walk(root, "", 0);
}

/**
 * The cgroup v2 directory whose inode number is `id` (what bpftrace's `cgroup` is), relative to
 * the hierarchy's root; `#id` when there is none. Unknown ids walk the hierarchy again, at most
 * once a second (parsers run at every snapshot).
 */
function cgroupPath(id: string): string {
  if (!cgroups.has(id) && Date.now() - walked > 1000) walkCgroups();
  return cgroups.get(id) ?? `#${id}`;
}
