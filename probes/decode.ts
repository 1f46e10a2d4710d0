/**
 * The decoder: turns bpftrace's `-f json` output (NDJSON) of a composed program into `Report`
 * values — one per interval snapshot and one for the exit dump.
 * @module
 */
import type { Composed } from "./compose.ts";
import {
  CONNECTION_SOURCES,
  END_MARK,
  MAP,
  SLOW_MARK,
  SNAPSHOT_MARK,
  SOURCE_ID,
  UNSAMPLED,
} from "./schema.ts";
import type { MapEntry, ProbePlugin } from "./plugin.ts";
import { opcodeName } from "./opcodes.ts";
import { addBuckets, bucketRange, totalCount } from "./hist.ts";
import {
  emptyRow,
  type OpRow,
  type Report,
  rowKey,
  type RunMeta,
  type SampledPart,
  type SlowRequest,
  SOURCE_NAMES,
} from "./report.ts";

/** What the decoder needs besides the output. */
export interface DecodeContext {
  composed:
    & Pick<Composed, "table" | "opcodePlugin" | "otherPlugin">
    & Partial<Pick<Composed, "env" | "pluginMaps" | "sample" | "autoSampleRate">>;
  /** Mount point of a connection number. */
  mountOf: (connection: number) => string;
  meta: RunMeta;
  /** The selected plugins: those with a parser turn their maps into sections. */
  plugins?: readonly ProbePlugin[];
  /** The most entries a section keeps (default 20). */
  top?: number;
}

type Maps = Map<string, Record<string, unknown> | number>;

/** An event of the stream. */
export type DecodedEvent =
  | { kind: "snapshot"; report: Report }
  | { kind: "final"; report: Report }
  | { kind: "lost"; events: number }
  | { kind: "message"; text: string }
  | { kind: "slow"; request: SlowRequest }
  | { kind: "none" };

/** The sources `--sample` samples. */
const SAMPLED_SOURCES: ReadonlySet<string> = new Set([
  "request",
  "queue",
  "daemon",
  "transit",
  "served",
]);

/** Streaming decoder: feed it lines with {@link Decoder.push}, end with {@link Decoder.finish}. */
export class Decoder {
  #maps: Maps = new Map();
  #lost = 0;
  #inFlight: number[] = [];
  constructor(readonly ctx: DecodeContext) {}

  /**
   * Takes one line of output.
   * @throws {SyntaxError} on a line that is not JSON
   */
  push(line: string): DecodedEvent {
    if (!line.trim()) return { kind: "none" };
    if (line.includes(`"${MAP.inFlight}"`)) {
      // In-flight requests: the value packs (start ns << 6 | opcode), too wide for a JS number.
      const ops: number[] = [];
      for (const m of line.matchAll(/"(\d+),\d+": "?(\d+)"?/g)) {
        ops.push(Number(m[1]) * 64 + Number(BigInt(m[2]!) & 63n));
      }
      this.#inFlight = ops;
      return { kind: "none" };
    }
    const msg = JSON.parse(line) as { type?: string; data?: unknown };
    switch (msg.type) {
      case "map":
      case "stats":
      case "hist": {
        for (const [name, value] of Object.entries(msg.data as Record<string, unknown>)) {
          this.#maps.set(name, value as Record<string, unknown> | number);
        }
        return { kind: "none" };
      }
      case "lost_events": {
        const n = Number((msg.data as { events?: unknown }).events ?? 0);
        this.#lost += n;
        return { kind: "lost", events: n };
      }
      case "printf": {
        const text = String(msg.data).trim();
        if (text === SNAPSHOT_MARK) {
          const report = this.#report();
          this.#maps = new Map();
          return { kind: "snapshot", report };
        }
        if (text === END_MARK) {
          this.#maps = new Map();
          return { kind: "none" };
        }
        if (text.startsWith(`${SLOW_MARK} `)) {
          // conn op ns pid errno HH:MM:SS.ffffff comm (the command name may hold spaces)
          const parts = text.replace(/\n$/, "").split(" ");
          const [c, op, ns, pid, errno] = parts.slice(1, 6).map(Number);
          return {
            kind: "slow",
            request: {
              mount: this.ctx.mountOf(c!),
              ...this.#opcode(op!),
              ns: ns!,
              pid: pid!,
              errno: errno!,
              time: parts[6] ?? "",
              comm: parts.slice(7).join(" "),
            },
          };
        }
        return { kind: "message", text };
      }
      default:
        return { kind: "none" };
    }
  }

  /** Plugin and name of an opcode (0 stands for the opcodes ≥ 64 the program cannot pack). */
  #opcode(op: number): { plugin: string; operation: string } {
    const { opcodePlugin, otherPlugin } = this.ctx.composed;
    return {
      plugin: opcodePlugin.get(op) ?? otherPlugin ?? "other",
      operation: op === 0 ? "OP_64+" : opcodeName(op),
    };
  }

  /** The exit dump as a report (call after bpftrace ended). */
  finish(): Report {
    return this.#report();
  }

  #report(): Report {
    const rows = new Map<string, OpRow>();
    // --sample auto: the requests outside the 1 in N (source id + UNSAMPLED), kept apart until
    // merged into the rows — or dropped once the program switched to 1 in N.
    const unsampled = new Map<string, OpRow>();
    const rank = new Map<OpRow, number>(); // opcode, or table index
    const { composed, mountOf } = this.ctx;
    const row = (keyed: number, conn: number, op: number): OpRow => {
      const into = keyed >= UNSAMPLED ? unsampled : rows;
      const src = keyed >= UNSAMPLED ? keyed - UNSAMPLED : keyed;
      let id: Pick<OpRow, "source" | "mount" | "plugin" | "operation">;
      const bySource = CONNECTION_SOURCES.find((s) => SOURCE_ID[s] === src);
      if (bySource) {
        id = {
          source: bySource,
          mount: mountOf(conn),
          ...this.#opcode(op),
        };
      } else {
        const e = composed.table[op];
        id = e
          ? { source: e.source, mount: "-", plugin: e.plugin, operation: e.operation }
          : { source: "probe", mount: "-", plugin: "?", operation: `#${op}` };
      }
      const k = rowKey(id);
      let r = into.get(k);
      if (!r) {
        into.set(k, r = emptyRow(id));
        rank.set(r, op);
      }
      return r;
    };
    const each = (name: string, f: (k: number[], v: number) => void) => {
      const m = this.#maps.get(name);
      if (m === undefined || typeof m !== "object") return;
      for (const [key, value] of Object.entries(m)) f(key.split(",").map(Number), Number(value));
    };
    each(MAP.lat, ([s, c, op, b], n) => {
      const r = row(s!, c!, op!);
      (r.buckets as Map<number, number>).set(b!, (r.buckets.get(b!) ?? 0) + n);
    });
    // stats(): the exact timed count and sum, even if the histogram map ran out of keys; the
    // count of the timed requests (the others are counted at send).
    const st = this.#maps.get(MAP.stats);
    const dropped = { sampled: 0, unsampled: 0 };
    for (const [key, v] of Object.entries(typeof st === "object" ? st : {})) {
      const [s, c, op] = key.split(",").map(Number);
      const r = row(s!, c!, op!);
      const { count, total } = v as { count: number | string; total: number | string };
      r.count += Number(count);
      r.sumNs = Number(total);
      if (Number(count) > totalCount(r.buckets)) r.timed = Number(count);
      dropped[s! >= UNSAMPLED ? "unsampled" : "sampled"] += Number(count) - totalCount(r.buckets);
    }
    // Latencies can only have been dropped if the histogram map is full: else the difference is
    // requests that ended while bpftrace printed @lat and then @st.
    const lat = this.#maps.get(MAP.lat);
    const limit = Number(composed.env?.BPFTRACE_MAX_MAP_KEYS ?? Infinity);
    const full = typeof lat === "object" && Object.keys(lat).length >= limit;
    each(MAP.count, ([s, c, op], n) => void (row(s!, c!, op!).count += n));
    each(MAP.bytesIn, ([s, c, op], n) => void (row(s!, c!, op!).bytesIn = n));
    each(MAP.bytesOut, ([s, c, op], n) => void (row(s!, c!, op!).bytesOut = n));
    each(MAP.err, ([s, c, op, errno], n) => {
      const r = row(s!, c!, op!);
      r.errors[errno!] = (r.errors[errno!] ?? 0) + n;
    });
    const calls = this.#maps.get(MAP.calls);
    if (calls && typeof calls === "object") {
      for (const [probe, n] of Object.entries(calls)) {
        const user = probe.startsWith("uprobe:");
        const fn = probe.slice(probe.lastIndexOf(":") + 1);
        const r = emptyRow({
          source: user ? "uprobe" : "kernel",
          mount: "-",
          plugin: user ? "libfuse" : "count",
          operation: fn,
        });
        r.count = Number(n);
        rows.set(rowKey(r), r);
      }
    }
    // At exit, and at snapshots that printed them (inFlightSnapshots); counted there too.
    for (const key of this.#inFlight) {
      const r = row(SOURCE_ID.request, Math.floor(key / 64), key % 64);
      r.inFlight++;
      r.count++;
    }
    // --sample auto: the requests outside the 1 in N. Not switched, every request was timed: the
    // rows are both parts, and keep their 1 in N apart for an interval report across a later
    // switch. Switched: the 1 in N's rows; of the others only the answered ones' count stays
    // (they were counted where they were timed).
    const switched = Number(this.#maps.get(MAP.switched) ?? 0);
    const merged = !!composed.autoSampleRate && !switched;
    for (const [k, u] of unsampled) {
      if (!merged && u.source !== "request") continue;
      let r = rows.get(k);
      if (!r) {
        rows.set(k, r = emptyRow(u));
        rank.set(r, rank.get(u)!);
      }
      // A request row counts every request in either basis.
      if (u.source === "request") [r.count, u.count] = [r.count + u.count, 0];
    }
    if (merged) {
      for (const r of rows.values()) if (SAMPLED_SOURCES.has(r.source)) r.sampledPart = partOf(r);
      for (const [k, u] of unsampled) addRow(rows.get(k)!, u);
    }
    const droppedNs = full ? dropped.sampled + (merged ? dropped.unsampled : 0) : 0;
    // Min and max to the buckets' resolution (1/32): a min() and a max() per request cost two
    // map updates, more than the rest of the timing.
    for (const r of rows.values()) {
      const used = [...r.buckets.keys()];
      if (!used.length) continue;
      r.minNs = bucketRange(Math.min(...used))[0];
      r.maxNs = bucketRange(Math.max(...used))[1] - 1;
    }
    // A full pairing map loses the requests it should have timed: say so.
    const pairingFull = this.#inFlight.length >= limit;
    this.#inFlight = [];
    // --sample: the request source's rows and the parts of its requests are timed 1 in N.
    if (composed.sample && !merged) {
      for (const r of rows.values()) {
        if (SAMPLED_SOURCES.has(r.source)) r.sample = composed.sample;
      }
    }
    const unmatched = this.#maps.get(MAP.unmatched);
    const missed = Number(this.#maps.get(MAP.daemonMissed) ?? 0);
    const unpairable = Number(this.#maps.get(MAP.unique0) ?? 0);
    // A stable order: source (report order), mount, plugin (program order), opcode or table order.
    const plugins = [
      ...new Set([
        ...composed.opcodePlugin.values(),
        composed.otherPlugin ?? "other",
        ...composed.table.map((e) => e.plugin),
      ]),
    ];
    const at = (xs: readonly string[], x: string) => {
      const i = xs.indexOf(x);
      return i < 0 ? xs.length : i;
    };
    const ordered = [...rows.values()].filter((r) => r.count > 0).sort((a, b) =>
      at(SOURCE_NAMES, a.source) - at(SOURCE_NAMES, b.source) || a.mount.localeCompare(b.mount) ||
      at(plugins, a.plugin) - at(plugins, b.plugin) ||
      (rank.get(a) ?? Infinity) - (rank.get(b) ?? Infinity) ||
      a.operation.localeCompare(b.operation)
    );
    const sections = this.#sections();
    return {
      meta: this.ctx.meta,
      rows: ordered,
      ...(sections ? { sections } : {}),
      lostEvents: this.#lost,
      unmatched: typeof unmatched === "number" ? unmatched : Number(unmatched ?? 0),
      ...(unpairable ? { unpairable } : {}),
      ...(missed ? { daemonMissed: missed } : {}),
      ...(droppedNs > 0 ? { histogramDropped: droppedNs } : {}),
      ...(pairingFull ? { pairingFull } : {}),
      ...(composed.autoSampleRate && composed.sample
        ? {
          autoSample: {
            above: composed.autoSampleRate,
            sample: composed.sample,
            ...(switched
              ? {
                switched: {
                  afterS: Number(this.#maps.get(MAP.switchedAt) ?? 0) / 1000,
                  rate: switched,
                },
              }
              : {}),
          },
        }
        : {}),
    };
  }

  /** Each selected plugin's parser over its maps. */
  #sections(): Record<string, unknown> | undefined {
    const { composed, plugins = [], mountOf } = this.ctx;
    const byPlugin = new Map<string, Map<string, MapEntry[]>>();
    for (const [mapName, pm] of composed.pluginMaps ?? []) {
      const raw = this.#maps.get(mapName);
      const entries: MapEntry[] = [];
      if (typeof raw === "number") entries.push({ key: [], value: raw });
      else if (raw) {
        for (const [key, value] of Object.entries(raw)) {
          entries.push({ key: splitKey(key, pm.keys), value: Number(value) });
        }
      }
      const maps = byPlugin.get(pm.plugin) ?? new Map<string, MapEntry[]>();
      maps.set(pm.name, entries);
      byPlugin.set(pm.plugin, maps);
    }
    const out: Record<string, unknown> = {};
    for (const p of plugins) {
      if (!p.parse) continue;
      out[p.name] = p.parse(byPlugin.get(p.name) ?? new Map(), {
        mountOf,
        top: this.ctx.top ?? 20,
      });
    }
    return Object.keys(out).length ? out : undefined;
  }
}

/** The fields of a row `--sample auto` keeps apart for its 1 in N (copied). */
function partOf(r: OpRow): SampledPart {
  return {
    count: r.count,
    ...(r.timed !== undefined ? { timed: r.timed } : {}),
    errors: { ...r.errors },
    bytesOut: r.bytesOut,
    sumNs: r.sumNs,
    buckets: new Map(r.buckets),
  };
}

/** Adds the requests of `u` (the same row's other part) to `r`. */
function addRow(r: OpRow, u: OpRow): void {
  if (r.timed !== undefined || u.timed !== undefined) {
    r.timed = (r.timed ?? totalCount(r.buckets)) + (u.timed ?? totalCount(u.buckets));
  }
  r.count += u.count;
  r.sumNs += u.sumNs;
  r.bytesIn += u.bytesIn;
  r.bytesOut += u.bytesOut;
  for (const [e, n] of Object.entries(u.errors)) {
    r.errors[Number(e)] = (r.errors[Number(e)] ?? 0) + n;
  }
  r.buckets = addBuckets(r.buckets, u.buckets, 1);
}

/** A printed map key split into `n` fields: the last keeps any commas (a string). */
export function splitKey(key: string, n: number): string[] {
  const parts = key.split(",");
  if (n <= 1 || parts.length <= n) return n <= 1 ? [key] : parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(",")];
}

/**
 * Decodes a whole recorded output: the exit dump, or the last snapshot when there is none.
 * @throws {SyntaxError} on a line that is not JSON
 */
export function decodeRecorded(text: string, ctx: DecodeContext): Report {
  const d = new Decoder(ctx);
  let last: Report | undefined;
  let sawEnd = false;
  for (const line of text.split("\n")) {
    if (line.includes(END_MARK)) sawEnd = true;
    const ev = d.push(line);
    if (ev.kind === "snapshot") last = ev.report;
  }
  return sawEnd || !last ? d.finish() : last;
}
