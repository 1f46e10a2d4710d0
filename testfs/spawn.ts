/**
 * testfs as a child process (`cli.ts testfs`): what tests and scripts use, so that their own fs
 * calls never wait on the thread that serves them.
 * @module
 */
import { deviceOf, waitForMount } from "../util/fs.ts";
import type { TestFsOptions } from "./fs.ts";
import type { Latency } from "./options.ts";
import { errnoName } from "../util/errno.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

function latencyArg(l: Latency): string {
  switch (l.kind) {
    case "fixed":
      return `${l.ms}ms`;
    case "exp":
      return `exp:${l.meanMs}ms`;
    case "uniform":
      return `uniform:${l.minMs}ms-${l.maxMs}ms`;
  }
}

/** The `cli.ts testfs` flags for options. */
export function testFsArgs(o: TestFsOptions): string[] {
  const a: string[] = [];
  if (o.depth !== undefined) a.push("--depth", String(o.depth));
  if (o.fanout !== undefined) a.push("--fanout", String(o.fanout));
  if (o.files !== undefined) a.push("--files", String(o.files));
  if (o.seed !== undefined) a.push("--seed", String(o.seed));
  if (o.sizeScale !== undefined) a.push("--size-scale", String(o.sizeScale));
  if (o.entryTimeout !== undefined) a.push("--entry-timeout", String(o.entryTimeout));
  if (o.attrTimeout !== undefined) a.push("--attr-timeout", String(o.attrTimeout));
  if (o.keepCache === false) a.push("--no-keep-cache");
  if (o.negativeEntries) a.push("--negative-entries");
  if (o.singleThread) a.push("--single-thread");
  const lat = Object.entries(o.latency ?? {}).map(([k, v]) => `${k}=${latencyArg(v!)}`);
  if (lat.length) a.push("--latency", lat.join(","));
  const err = Object.entries(o.errors ?? {}).map(([k, v]) =>
    `${k}=${errnoName(v!.errno)}:${v!.p * 100}%`
  );
  if (err.length) a.push("--errors", err.join(","));
  return a;
}

/** A testfs child process. */
export interface SpawnedTestFs {
  mountPoint: string;
  /** The daemon's pid (the real deno binary, so signals reach it). */
  pid: number;
  /** Exit status once it ended. */
  status: Promise<Deno.CommandStatus>;
  /** SIGTERM, then wait until it unmounted and exited. Idempotent. */
  close(): Promise<Deno.CommandStatus>;
}

/**
 * Mounts testfs at `mountPoint` in a child process and waits until it is mounted.
 * @throws {Error} when it exits or does not mount within a minute
 */
export async function spawnTestFs(
  mountPoint: string,
  o: TestFsOptions = {},
): Promise<SpawnedTestFs> {
  const before = deviceOf(mountPoint);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "testfs", mountPoint, ...testFsArgs(o)],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const status = child.status;
  let exited = false;
  status.then(() => (exited = true));
  // A minute: Deno starting under emulation, three guests on two cores, took over 20 s.
  const wait = waitForMount(mountPoint, before, 60_000);
  try {
    await Promise.race([
      wait,
      status.then((s) => {
        if (!exited || s) throw new Error(`testfs exited with status ${s.code} before mounting`);
      }),
    ]);
  } catch (e) {
    // Not mounted in time: a child that mounts later would be left behind.
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await status;
    throw e;
  }
  let closing: Promise<Deno.CommandStatus> | undefined;
  return {
    mountPoint,
    pid: child.pid,
    status,
    close: () => {
      if (!closing) {
        try {
          child.kill("SIGTERM");
        } catch { /* already exited */ }
        closing = status;
      }
      return closing;
    },
  };
}
