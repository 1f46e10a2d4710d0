/**
 * The built-in demo: generate a tree of ≥ 2 000 files, pack it with mksquashfs, mount it with
 * squashfuse, trace it with every plugin while a workload walks, stats and reads every file, print
 * the report, write a CSV, unmount — also on Ctrl-C.
 * @module
 */
import { prepare, run } from "../probes/runner.ts";
import { writeCsv, writeFileAtomic } from "../reporters/csv.ts";
import { formatTable } from "../reporters/table.ts";
import { ensureTools, mountSquashfs, shapeFor } from "./squashfs.ts";
import { walkStatRead } from "./workload.ts";

/** Demo options. */
export interface DemoOptions {
  /** Files in the generated tree (default 2400). */
  files?: number;
  /** CSV file to write. */
  csv: string;
}

/** Runs the demo; cleans up on Ctrl-C. */
export async function runDemo(o: DemoOptions): Promise<void> {
  const log = (s: string) => console.error(`[demo] ${s}`);
  await ensureTools(log);
  const ac = new AbortController();
  const onSig = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSig);
  Deno.addSignalListener("SIGTERM", onSig);
  const shape = shapeFor(o.files ?? 2400);
  log(`building a squashfs image of ${shape.dirs * shape.subdirs * shape.filesPerDir} files…`);
  const m = await mountSquashfs(shape);
  try {
    log(`mounted with squashfuse at ${m.mountPoint}`);
    const p = prepare({ mounts: [m.mountPoint] });
    let work: Promise<void> | undefined;
    const report = await run(p, {
      signal: ac.signal,
      onReady: () => {
        log(`tracing with every plugin (${p.plugins.length}); workload: walk, stat, read`);
        work = walkStatRead(m.mountPoint, (s) => log(`read ${s.files} files`))
          .then((s) => log(`workload done: ${s.dirs} dirs, ${s.files} files, ${s.bytes} bytes`))
          .catch((e) => log(`workload stopped: ${(e as Error).message}`))
          .finally(() => ac.abort());
      },
    });
    await work;
    console.log(formatTable(report));
    writeFileAtomic(o.csv, writeCsv(report));
    log(`CSV written to ${o.csv}`);
  } finally {
    await m.close();
    log("unmounted");
    Deno.removeSignalListener("SIGINT", onSig);
    Deno.removeSignalListener("SIGTERM", onSig);
  }
}
