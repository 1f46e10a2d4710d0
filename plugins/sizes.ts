import { opcodeName } from "../probes/opcodes.ts";
import { definePlugin, type ProbePlugin, type SectionTable } from "../probes/plugin.ts";
import { columns, fmtBytes } from "../util/format.ts";

/** Sizes of one operation on one mount: power-of-two buckets. */
export interface SizeHistogram {
  mount: string;
  operation: string;
  count: number;
  bytes: number;
  /** `from` ≤ size < `to` (a bucket of zero-byte requests has from = to = 0). */
  buckets: { from: number; to: number; count: number }[];
}

/** The `sizes` section of a report. */
export interface SizesSection {
  histograms: SizeHistogram[];
}

const READ = 15, WRITE = 16;

/** One table per histogram: size range, count. */
function sizeTables(s: SizesSection): SectionTable[] {
  if (!s.histograms.length) return [{ title: "Sizes: no READ or WRITE", head: [], rows: [] }];
  return s.histograms.map((h) => ({
    title: `${h.operation} sizes on ${h.mount}: ${h.count} requests, ${fmtBytes(h.bytes)}`,
    head: ["SIZE", "COUNT"],
    rows: h.buckets.map((b) => [
      b.to ? `[${fmtBytes(b.from)}, ${fmtBytes(b.to)})` : "0",
      String(b.count),
    ]),
  }));
}

/**
 * READ and WRITE sizes per mount, from the request source: bytes a READ reply carried (its length
 * minus the 16-byte header) and bytes a WRITE sent (its length minus the 40-byte header and the
 * 40-byte fuse_write_in).
 */
const plugin: ProbePlugin<SizesSection> = definePlugin<SizesSection>({
  name: "sizes",
  description: "READ and WRITE sizes per mount, as power-of-two histograms",
  observes: [READ, WRITE],
  sources: ["request"],
  byDefault: false,
  program(b) {
    const hist = b.map("hist", { keys: 3 });
    const bytes = b.map("bytes", { keys: 2 });
    const size = b.local("size"), e = b.local("e");
    const record = [
      ...b.log2(size, e),
      // bucket 0: zero bytes; bucket k: 2^(k-1) ≤ size < 2^k
      `if (${size} > 0) { ${e} += 1; }`,
      `${hist}[$c, $op, ${e}] = count();`,
      `${bytes}[$c, $op] = sum(${size});`,
    ];
    b.at("request.send", [`${size} = $len - 80;`, ...record], { opcodes: [WRITE] });
    b.at("request.end", [
      `if ($err == 0) {`,
      `  ${size} = $len - 16;`,
      ...record.map((l) => `  ${l}`),
      `}`,
    ], {
      opcodes: [READ],
    });
  },
  parse(maps, ctx) {
    const by = new Map<string, SizeHistogram>();
    const get = (c: string, op: string) => {
      const k = `${c}:${op}`;
      let h = by.get(k);
      if (!h) {
        h = {
          mount: ctx.mountOf(Number(c)),
          operation: opcodeName(Number(op)),
          count: 0,
          bytes: 0,
          buckets: [],
        };
        by.set(k, h);
      }
      return h;
    };
    for (const e of maps.get("hist") ?? []) {
      const [c = "0", op = "0", b = "0"] = e.key;
      const k = Number(b);
      const h = get(c, op);
      h.count += e.value;
      h.buckets.push({ from: k ? 2 ** (k - 1) : 0, to: k ? 2 ** k : 0, count: e.value });
    }
    for (const e of maps.get("bytes") ?? []) get(e.key[0] ?? "0", e.key[1] ?? "0").bytes += e.value;
    const histograms = [...by.values()].sort((a, b) =>
      a.mount.localeCompare(b.mount) || a.operation.localeCompare(b.operation)
    );
    for (const h of histograms) h.buckets.sort((a, b) => a.from - b.from);
    return { histograms };
  },
  tables: sizeTables,
  render(s) {
    const tables = sizeTables(s);
    if (!s.histograms.length) return tables[0]!.title;
    return tables.map((t, i) => {
      const buckets = s.histograms[i]!.buckets;
      const peak = Math.max(...buckets.map((b) => b.count), 1);
      // Bars after the table, left-aligned, 40 characters at the peak.
      const bars = [
        "",
        ...buckets.map((b) => "#".repeat(Math.max(1, Math.round(b.count / peak * 40)))),
      ];
      const table = columns([t.head, ...t.rows]).split("\n");
      return `${t.title}\n${table.map((l, j) => `${l}  ${bars[j]}`.trimEnd()).join("\n")}`;
    }).join("\n\n");
  },
});
export default plugin;
