/** Shared test helpers. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";

export {
  deepStrictEqual as assertEquals,
  match as assertMatch,
  ok as assert,
  rejects as assertRejects,
  throws as assertThrows,
} from "node:assert/strict";
import { mountSquashfs, type SquashMount, type TreeShape } from "../demo/squashfs.ts";
import type { Report } from "../probes/report.ts";
import type { TestFsOptions } from "../testfs/fs.ts";
import { type SpawnedTestFs, spawnTestFs } from "../testfs/spawn.ts";
import { traceDuring, type TraceOptions } from "../mod.ts";
import { deviceOf, waitForMount } from "../util/fs.ts";

const root = new URL("..", import.meta.url).pathname;

/** A made-up run's metadata (host and duration as given). */
export function testMeta(host = "h", durationS = 1): Report["meta"] {
  return {
    host,
    kernel: "6.18",
    tool: "fusetrace 0.1.0",
    bpftrace: "0.17.0",
    start: "2026-12-02T10:00:00.000Z",
    durationS,
  };
}

/** Compares `actual` with a golden file; UPDATE_GOLDEN=1 rewrites it. */
export function assertGolden(name: string, actual: string): void {
  const path = `${root}tests/testdata/golden/${name}`;
  if (Deno.env.get("UPDATE_GOLDEN")) {
    Deno.writeTextFileSync(path, actual);
    return;
  }
  assertEquals(actual, Deno.readTextFileSync(path), `golden ${name}`);
}

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A cli.ts …args` and collects its output. */
export async function runCli(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; uid?: number; wrap?: string[] } = {},
): Promise<CliResult> {
  const cmd = [
    ...opts.wrap ?? [],
    ...opts.uid !== undefined
      ? ["setpriv", `--reuid=${opts.uid}`, "--regid=65534", "--clear-groups"]
      : [],
    Deno.execPath(),
  ];
  const o = await new Deno.Command(cmd[0]!, {
    args: [...cmd.slice(1), "run", "-A", "--cached-only", `${root}cli.ts`, ...args],
    cwd: opts.cwd ?? root,
    env: { NO_COLOR: "1", ...opts.env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** Runs `fn` with a fresh squashfuse mount of a generated tree; always unmounts. */
export async function withSquashfs<T>(
  shape: TreeShape,
  fn: (m: SquashMount) => Promise<T>,
  o: { relative?: boolean } = {},
): Promise<T> {
  const m = await mountSquashfs(shape, o);
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}

export { root };

/** Runs `fn` with testfs mounted at a new directory (or `at`); always unmounts. */
export async function withTestFs<T>(
  o: TestFsOptions,
  fn: (fs: SpawnedTestFs) => Promise<T>,
  at?: string,
): Promise<T> {
  const mnt = at ?? Deno.makeTempDirSync({ prefix: "fusetrace-testfs-" });
  if (at) Deno.mkdirSync(at, { recursive: true });
  const fs = await spawnTestFs(mnt, o);
  try {
    return await fn(fs);
  } finally {
    await fs.close();
    Deno.removeSync(mnt);
  }
}

/** A deterministic PRNG, so a failing sample is reproducible. */
export { prng as rng } from "../testfs/tree.ts";

/** Traces while `work` runs (see traceDuring) and returns the report. */
export async function traced(o: TraceOptions, work: () => Promise<unknown>): Promise<Report> {
  return (await traceDuring(o, work)).report;
}

/** Reads a text stream until `marker` appeared; returns what was read. */
export async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  marker: string,
): Promise<string> {
  let text = "";
  while (!text.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  return text;
}

/** Reads a text stream to its end. */
export async function readRest(reader: ReadableStreamDefaultReader<string>): Promise<string> {
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return text;
    text += value;
  }
}

/** Starts `deno run -A ARGS` (in the project root) and waits until its stderr shows `marker`. */
export async function spawnUntil(args: string[], marker: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = await readUntil(err, marker);
  const rest = readRest(err).then((more) => stderr + more);
  return {
    child,
    stderr,
    finish: async () => ({ status: await child.status, stdout: await stdout, stderr: await rest }),
  };
}

/** Starts `cli.ts ARGS` and waits until it says "Hit Ctrl-C to end." (its probes are attached). */
export function spawnCli(args: string[]): ReturnType<typeof spawnUntil> {
  return spawnUntil([`${root}cli.ts`, ...args], "Hit Ctrl-C to end.");
}

/**
 * A squashfs of a few of this Python's stdlib packages (json, email, http, urllib, xml, html),
 * mounted with squashfuse: a real Python start-up imports them from it with PYTHONPATH=mnt.
 */
export async function withPythonSquashfs<T>(fn: (mnt: string) => Promise<T>): Promise<T> {
  const py = new TextDecoder().decode(
    (await new Deno.Command("python3", {
      args: ["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
      stdout: "piped",
    }).output()).stdout,
  ).trim();
  const dir = Deno.makeTempDirSync({ prefix: "fusetrace-py-" });
  const packages = ["json", "email", "http", "urllib", "xml", "html"].map((p) => `${py}/${p}`);
  const mk = await new Deno.Command("mksquashfs", {
    args: [...packages, `${dir}/py.sqfs`, "-noappend", "-quiet", "-no-progress"],
    stdout: "null",
  }).output();
  assert(mk.success, "mksquashfs");
  Deno.mkdirSync(`${dir}/mnt`);
  const daemon = new Deno.Command("squashfuse", {
    args: ["-f", `${dir}/py.sqfs`, `${dir}/mnt`],
    stderr: "null",
  }).spawn();
  try {
    await waitForMount(`${dir}/mnt`, deviceOf(dir));
    return await fn(`${dir}/mnt`);
  } finally {
    await new Deno.Command("fusermount3", { args: ["-u", "-z", `${dir}/mnt`] }).output();
    await daemon.status;
    Deno.removeSync(dir, { recursive: true });
  }
}
