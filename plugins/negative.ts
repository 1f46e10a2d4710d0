import { definePlugin, type MapEntry, type ProbePlugin } from "../probes/plugin.ts";

/** Negative lookups of one name under one directory, as the daemon answered them. */
export interface NegativeName {
  mount: string;
  /**
   * The directory's path below the mount (`""` its root), from the directories looked up while
   * tracing; `…/` starts a path whose upper part was looked up before; null when unknown.
   */
  parent: string | null;
  /**
   * The directory: its node id (FUSE_ROOT_ID is 1), or from the kernel its dentry's address; as
   * printed (a kernel address does not fit a JS number).
   */
  parentNode: string;
  name: string;
  /**
   * `ENOENT`: an error reply; `zero-nodeid`: an entry with node id 0 (CVMFS's cacheable kind);
   * `negative`: seen from the kernel, which keeps no trace of which of the two the daemon sent.
   */
  kind: "ENOENT" | "zero-nodeid" | "negative";
  count: number;
  /** The processes that asked (pid from the request header; command name as sent, or `?`). */
  requesters: { pid: number; comm: string; count: number }[];
}

/** The `negative` section of a report. */
export interface NegativeSection {
  /** Negative lookups in all, and of each kind. */
  total: number;
  enoent: number;
  zeroNodeid: number;
  /** Distinct (mount, directory, name, kind) entries; `names` holds the top ones. */
  distinct: number;
  names: NegativeName[];
  /** Negative lookups by mount and kind, all of them (absent in reports made before 0.2). */
  byMount?: { mount: string; kind: NegativeName["kind"]; count: number }[];
}

/** LOOKUP opcode; FUSE_ROOT_ID. */
const LOOKUP = 1;
const ROOT = "1";
/** Name bytes kept (longer names are cut). */
const NAME_MAX = 64;
/** The kernel function every LOOKUP is sent from. */
const KERNEL_LOOKUP = "fuse_lookup";

/**
 * Names of negative lookups. Where kprobes attach (with BTF), from the kernel: fuse_lookup() gets
 * the directory's dentry and the name's, and leaves the name without an inode. Elsewhere from the
 * daemon's side: the name follows the 40-byte fuse_in_header of a LOOKUP the daemon reads; its
 * reply is an ENOENT error or a fuse_entry_out with node id 0. Successful lookups of directories
 * give the parents' paths.
 */
const plugin: ProbePlugin<NegativeSection> = definePlugin<NegativeSection>({
  name: "negative",
  description:
    "names of negative lookups (ENOENT and zero-nodeid entries) by directory and process",
  observes: [LOOKUP],
  sources: (k) => k.kernelFunction(KERNEL_LOOKUP) ? [] : ["daemon"],
  byDefault: false,
  program(b) {
    // Per request: (conn, parent node, requester pid[, the entry's dentry]), and the name.
    const pending = b.map("pending", { temporary: true });
    const name = b.map("name", { temporary: true });
    // conn, parent node, requester pid, kind (errno 2, or 0: zero node id), name
    const names = b.map("names", { keys: 5 });
    // conn, node id, parent node, name: the directories looked up while tracing
    const dirs = b.map("dirs", { keys: 4 });
    // pid, command name of LOOKUP requesters (kernel functions, or the request source)
    const comms = b.map("comms", { keys: 2 });
    const t = b.local("t"), node = b.local("node"), c = b.local("c"), kind = b.local("kind");
    const kernel = b.kernelProbe(KERNEL_LOOKUP);
    if (kernel) {
      // fuse_lookup(struct inode *dir, struct dentry *entry, unsigned int flags): the callback
      // every LOOKUP of a name not in the dentry cache comes from (fuse_lookup_name may be
      // inlined into it). Directories are told by dentry, the mount's root as 1.
      const e = b.local("e"), p = b.local("p");
      const nodeOf = (d: string) =>
        `(${d} == (uint64)((struct dentry *)${d})->d_sb->s_root ? 1 : ${d})`;
      b.probe(kernel[0], [
        `${e} = (struct dentry *)arg1;`,
        `${c} = (uint64)${e}->d_sb->s_dev;`,
        `if (${b.filter(c)}) {`,
        `  ${p} = (uint64)${e}->d_parent;`,
        `  ${pending}[tid] = (${c}, ${nodeOf(p)}, pid, arg1);`,
        `  ${name}[tid] = ${b.kernelString(`${e}->d_name.name`, NAME_MAX)};`,
        `  ${comms}[pid, comm] = count();`,
        `}`,
      ]);
      // Returned NULL: the entry itself took the answer — no inode: negative (the kernel keeps
      // no trace of whether the daemon said ENOENT or node id 0); a directory: a parent to name.
      b.probe(kernel[1], [
        `${t} = ${pending}[tid];`,
        `if (${t}.0 != 0 && retval == 0) {`,
        `  ${e} = (struct dentry *)${t}.3;`,
        `  if (${e}->d_inode == 0) {`,
        `    ${names}[${t}.0, ${t}.1, ${t}.2, 1, ${name}[tid]] = count();`,
        `  } else if ((${e}->d_inode->i_mode & 0xf000) == 0x4000) {`,
        `    ${dirs}[${t}.0, ${t}.3, ${t}.1, ${name}[tid]] = count();`,
        `  }`,
        `}`,
        `delete(${pending}[tid]);`,
        `delete(${name}[tid]);`,
      ]);
      return;
    }
    b.at("daemon.request", [
      `${pending}[$c, $u] = ($c, ${b.user("u64", "$p + 16")}, ${b.user("u32", "$p + 32")});`,
      `${name}[$c, $u] = ${b.userString("$p + 40", NAME_MAX)};`,
    ], { opcodes: [LOOKUP] });
    // The reply: an error, or a fuse_entry_out at $body (node id +0; attr at +40, its mode +60).
    // One statement per map, the name read from its map into the key: each key is built on the
    // BPF stack, 512 bytes in all.
    const key = "$c, $u";
    b.at("daemon.reply", [
      `${t} = ${pending}[${key}];`,
      `${kind} = 1;`,
      `if (${t}.0 == 0) {`, // no state: its request began before tracing
      `  ${kind} = 3;`,
      `} else if ($err == 2) {`,
      `  ${kind} = 2;`,
      `} else if ($err == 0) {`,
      `  ${node} = ${b.user("u64", "$body")};`,
      `  if (${node} == 0) {`,
      `    ${kind} = 0;`,
      `  } else if ((${b.user("u32", "$body + 100")} & 0xf000) == 0x4000) {`,
      `    ${dirs}[${t}.0, ${node}, ${t}.1, ${name}[${key}]] = count();`,
      `  }`,
      `}`,
      `if (${kind} == 0 || ${kind} == 2) {`,
      `  ${names}[${t}.0, ${t}.1, ${t}.2, ${kind}, ${name}[${key}]] = count();`,
      `}`,
      `delete(${pending}[${key}]);`,
      `delete(${name}[${key}]);`,
    ], { opcodes: [LOOKUP] });
    b.at("request.send", [`${comms}[pid, comm] = count();`], { opcodes: [LOOKUP] });
  },
  parse(maps, ctx) {
    const dirs = new Map<string, { parent: string; name: string }>();
    for (const e of maps.get("dirs") ?? []) {
      const [c, node, parent = "", name = ""] = e.key;
      dirs.set(`${c}:${node}`, { parent, name });
    }
    const comms = new Map<number, string>();
    for (const e of maps.get("comms") ?? []) comms.set(Number(e.key[0]), e.key[1] ?? "?");
    const pathOf = (c: string, node: string): string | null => {
      const parts: string[] = [];
      for (let n = node, i = 0; n !== ROOT; i++) {
        const d = dirs.get(`${c}:${n}`);
        if (!d || i > 255) return parts.length ? `…/${parts.reverse().join("/")}` : null;
        parts.push(d.name);
        n = d.parent;
      }
      return parts.reverse().join("/");
    };
    const grouped = new Map<string, NegativeName>();
    let enoent = 0, zero = 0, total = 0;
    const byMount = new Map<string, { mount: string; kind: NegativeName["kind"]; count: number }>();
    for (const e of maps.get("names") ?? [] as readonly MapEntry[]) {
      const [c = "0", parent = "0", pid = "0", kind = "0", name = ""] = e.key;
      const entry: Omit<NegativeName, "count" | "requesters"> = {
        mount: ctx.mountOf(Number(c)),
        parent: pathOf(c, parent),
        parentNode: parent,
        name,
        kind: kind === "2" ? "ENOENT" : kind === "0" ? "zero-nodeid" : "negative",
      };
      if (entry.kind === "ENOENT") enoent += e.value;
      else if (entry.kind === "zero-nodeid") zero += e.value;
      total += e.value;
      const mk = JSON.stringify([entry.mount, entry.kind]);
      const m = byMount.get(mk) ?? { mount: entry.mount, kind: entry.kind, count: 0 };
      m.count += e.value;
      byMount.set(mk, m);
      const k = JSON.stringify([c, parent, name, kind]);
      const g = grouped.get(k) ?? { ...entry, count: 0, requesters: [] };
      g.count += e.value;
      g.requesters.push({ pid: Number(pid), comm: comms.get(Number(pid)) ?? "?", count: e.value });
      grouped.set(k, g);
    }
    const all = [...grouped.values()];
    for (const g of all) g.requesters.sort((a, b) => b.count - a.count || a.pid - b.pid);
    all.sort((a, b) =>
      b.count - a.count || a.mount.localeCompare(b.mount) ||
      (a.parent ?? "").localeCompare(b.parent ?? "") || a.name.localeCompare(b.name)
    );
    return {
      total,
      enoent,
      zeroNodeid: zero,
      distinct: all.length,
      names: all.slice(0, ctx.top),
      byMount: [...byMount.values()].sort((a, b) =>
        a.mount.localeCompare(b.mount) || a.kind.localeCompare(b.kind)
      ),
    };
  },
  tables(s, o) {
    const kinds = s.total > s.enoent + s.zeroNodeid
      ? "seen by the kernel, which does not tell ENOENT from node id 0"
      : `ENOENT ${s.enoent}, zero-nodeid ${s.zeroNodeid}`;
    const shown = s.names.slice(0, o.top);
    return [{
      title: `Negative lookups: ${s.total} (${kinds}), ${s.distinct} distinct names`,
      head: ["PATH", "COUNT", "KIND", "REQUESTERS"],
      rows: shown.map((n) => [
        negativePath(n),
        String(n.count),
        n.kind,
        n.requesters.slice(0, 3).map((r) => `${r.comm}[${r.pid}]×${r.count}`).join(" "),
      ]),
      ...(s.distinct > shown.length ? { note: `(top ${shown.length} of ${s.distinct})` } : {}),
    }];
  },
  metrics(s) {
    return [{
      name: "fusetrace_negative_lookups_total",
      help: "Negative lookups (ENOENT, zero-nodeid entry, or negative as the kernel saw it)",
      type: "counter",
      samples: (s.byMount ?? []).map((m) => ({
        labels: { mount: m.mount, kind: m.kind },
        value: m.count,
      })),
    }];
  },
});
export default plugin;

/** The full path of a negative name: mount, directory (or `<node N>`), name. */
export function negativePath(n: NegativeName): string {
  const dir = n.parent === null ? `<node ${n.parentNode}>` : n.parent;
  return [n.mount.replace(/\/$/, ""), dir, n.name].filter(Boolean).join("/");
}
