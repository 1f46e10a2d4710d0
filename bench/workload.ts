/**
 * A bench workload, run as its own (pinnable) process: `deno run -A bench/workload.ts KIND ROOT
 * LIST` where LIST holds the relative paths of the files (one per line). Prints
 * `{"ms": wall time, "ops": operations}` as JSON.
 * @module
 */

/** Workload kinds. */
export const WORKLOADS = ["storm", "walk", "cold-read", "warm-read", "import"] as const;
/** One of {@link WORKLOADS}. */
export type Workload = typeof WORKLOADS[number];

async function walk(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    n++;
    if (e.isDirectory) n += await walk(`${dir}/${e.name}`);
  }
  return n;
}

/**
 * Python's `import` from /cvmfs: for each module, look for it along a search path of several
 * directories (absent names: `mod.py`, `mod/__init__.py`, `mod.cpython-311-x86_64-linux-gnu.so`),
 * then find it in its real directory and read it.
 */
function importLike(root: string, files: string[]): number {
  let ops = 0;
  const dirs = [...new Set(files.map((f) => f.slice(0, f.lastIndexOf("/"))))].slice(0, 6);
  for (const f of files.slice(0, Math.min(files.length, 400))) {
    const name = f.slice(f.lastIndexOf("/") + 1).replace(/\.py$/, "");
    for (const d of dirs) {
      for (const probe of [`${name}_x.py`, `${name}_x/__init__.py`, `${name}_x.cpython-311.so`]) {
        ops++;
        try {
          Deno.statSync(`${root}/${d}/${probe}`);
        } catch { /* absent, as expected */ }
      }
    }
    Deno.statSync(`${root}/${f}`);
    Deno.readFileSync(`${root}/${f}`);
    ops += 2;
  }
  return ops;
}

/** Runs one workload; returns wall time and operation count. */
export async function runWorkload(kind: Workload, root: string, files: string[]) {
  const t = performance.now();
  let ops = 0;
  switch (kind) {
    case "storm":
      for (const f of files) Deno.statSync(`${root}/${f}`);
      ops = files.length;
      break;
    case "walk":
      ops = await walk(root);
      break;
    case "cold-read":
    case "warm-read":
      for (const f of files) Deno.readFileSync(`${root}/${f}`);
      ops = files.length;
      break;
    case "import":
      ops = importLike(root, files);
      break;
  }
  return { ms: performance.now() - t, ops };
}

if (import.meta.main) {
  const [kind, root, list] = Deno.args;
  const files = Deno.readTextFileSync(list!).split("\n").filter(Boolean);
  console.log(JSON.stringify(await runWorkload(kind as Workload, root!, files)));
}
