/**
 * The built-in demo, on testfs (a FUSE filesystem with known service times): mount it with
 * CVMFS-like latencies, trace a start-up-like workload (walk, stat, read every file) with every
 * plugin and every source available here, print the report and where the time goes, write a CSV;
 * then a second run with a slower LOOKUP, and the coloured diff of the two. Cleans up on Ctrl-C.
 * @module
 */
import {
  compareRuns,
  detectCapabilities,
  formatDiffTable,
  formatSplit,
  formatTable,
  legend,
  onStopSignals,
  type Report,
  requireRoot,
  spawnTestFs,
  type TestFsOptions,
  traceDuring,
  unavailable,
  writeCsv,
  writeFileAtomic,
} from "../mod.ts";
import { ensureTools } from "./squashfs.ts";
import { walkStatRead } from "./workload.ts";

/** Demo options. */
export interface DemoOptions {
  /** Files in the generated tree (default 2000). */
  files?: number;
  /** CSV path prefix: writes PREFIX_1.csv and PREFIX_2.csv. */
  csv: string;
  /** Colour the diff (default: when stdout is a terminal and NO_COLOR is unset). */
  color?: boolean;
}

const us = (n: number) => ({ kind: "fixed" as const, ms: n / 1000 });

/**
 * The two variants: a warm CVMFS-like cache, then the same with LOOKUP three times as slow — a
 * shift that stands clear of testfs's own lateness (tens to hundreds of µs on a busy VM).
 */
export function demoVariants(files: number): [string, TestFsOptions][] {
  const base: TestFsOptions = {
    depth: 3,
    fanout: 4,
    files,
    sizeScale: 0.05,
    latency: { lookup: us(200), getattr: us(100), open: us(100), read: us(300) },
  };
  return [
    ["baseline (lookup 200us, read 300us)", base],
    ["slower lookup (600us)", { ...base, latency: { ...base.latency, lookup: us(600) } }],
  ];
}

/** Runs the demo; cleans up on Ctrl-C. */
export async function runDemo(o: DemoOptions): Promise<void> {
  const log = (s: string) => console.error(`[demo] ${s}`);
  requireRoot();
  await ensureTools(log);
  const ac = new AbortController();
  const unlisten = onStopSignals(() => ac.abort());
  const caps = detectCapabilities();
  const sources = (["request", "daemon"] as const).filter((s) => !unavailable(s, caps));
  const reports: Report[] = [];
  try {
    for (const [i, [name, opts]] of demoVariants(o.files ?? 2000).entries()) {
      if (ac.signal.aborted) break;
      const mnt = Deno.makeTempDirSync({ prefix: "fusetrace-demo-" });
      log(`run ${i + 1}/2, ${name}: mounting testfs (${opts.files} files) at ${mnt}`);
      const fs = await spawnTestFs(mnt, opts);
      try {
        const { report } = await traceDuring(
          {
            mounts: [mnt],
            sources: [...sources],
            signal: ac.signal,
            onReady: (p) =>
              log(`tracing with every plugin (${p.plugins.length}), sources ${sources.join("+")}`),
          },
          () =>
            walkStatRead(mnt, (s) => log(`  read ${s.files} files`), ac.signal)
              .then((s) =>
                log(`  workload done: ${s.dirs} dirs, ${s.files} files, ${s.bytes} bytes`)
              )
              .catch((e) => log(`  workload stopped: ${(e as Error).message}`)),
        );
        console.log(`\n=== run ${i + 1}: ${name} ===\n${formatTable(report)}`);
        const split = formatSplit(report);
        if (split) console.log(`\n${split}`);
        const csv = `${o.csv}_${i + 1}.csv`;
        // Mount points differ between runs: name the mount by its role so the diff pairs rows.
        report.rows = report.rows.map((r) => (r.mount === mnt ? { ...r, mount: "testfs" } : r));
        writeFileAtomic(csv, writeCsv(report));
        log(`CSV written to ${csv}`);
        reports.push(report);
      } finally {
        await fs.close();
        Deno.removeSync(mnt);
        log("unmounted");
      }
    }
    if (reports.length === 2) {
      const color = o.color ?? (Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"));
      console.log(`\n=== diff: run 1 → run 2 (fusetrace diff ${o.csv}_1.csv ${o.csv}_2.csv) ===`);
      const d = compareRuns([reports[0]!], [reports[1]!]);
      const rows = d.rows.filter((r) => r.source === "request");
      console.log(formatDiffTable(rows, legend(undefined, [1, 1]), color));
    }
  } finally {
    unlisten();
  }
}
