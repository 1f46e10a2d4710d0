/**
 * The demo's workload: walk the tree (readdir), stat every file, read every file.
 * @module
 */

/** What a workload did. */
export interface WorkloadStats {
  dirs: number;
  files: number;
  bytes: number;
}

/** Walks `root` recursively, stats and reads every file; stops early when `signal` aborts. */
export async function walkStatRead(
  root: string,
  progress?: (s: WorkloadStats) => void,
  signal?: AbortSignal,
): Promise<WorkloadStats> {
  const stats: WorkloadStats = { dirs: 0, files: 0, bytes: 0 };
  const files: string[] = [];
  const walk = async (dir: string) => {
    stats.dirs++;
    for await (const e of Deno.readDir(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else files.push(p);
    }
  };
  await walk(root);
  for (const f of files) {
    if (signal?.aborted) return stats;
    await Deno.stat(f);
  }
  for (const f of files) {
    if (signal?.aborted) return stats;
    stats.bytes += (await Deno.readFile(f)).length;
    stats.files++;
    if (stats.files % 500 === 0) progress?.(stats);
  }
  return stats;
}
