/**
 * `fusetrace install`: a launcher on the PATH that runs this checkout's cli.ts with the Deno that
 * installed it (copied, so an npx cache going away does not break it) and the modules already
 * cached (no network at run time), and a man page made from the command line's help.
 * @module
 */
import { UsageError } from "./errors.ts";
import { VERSION } from "./version.ts";

/** Where things went. */
export interface Installed {
  launcher: string;
  deno: string;
  man: string;
  /** The launcher's directory is on PATH. */
  onPath: boolean;
}

/** A help text as a man page section body: literal lines, roff-escaped. */
function literal(text: string): string {
  const lines = text.trimEnd().split("\n").map((l) =>
    l.replace(/\\/g, "\\e").replace(/^([.'])/, "\\&$1")
  );
  return [".nf", ...lines, ".fi"].join("\n");
}

/** The man page: the program's help, then each command's. */
export function manPage(main: string, commands: [string, string][], date: string): string {
  return [
    `.TH FUSETRACE 1 "${date}" "fusetrace ${VERSION}" "User Commands"`,
    ".SH NAME",
    "fusetrace \\- latency and counters of FUSE filesystems (CernVM-FS first), with bpftrace",
    ".SH SYNOPSIS",
    ".B fusetrace",
    "\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]",
    ".SH DESCRIPTION",
    literal(main),
    ".SH COMMANDS",
    ...commands.flatMap(([name, help]) => [`.SS ${name}`, literal(help)]),
    ".SH SEE ALSO",
    "bpftrace(8), README.md of the fusetrace checkout",
    "",
  ].join("\n");
}

/** Same size and modification time (the copy keeps them): no need to copy again. */
function sameFile(a: string, b: string): boolean {
  try {
    const [x, y] = [Deno.statSync(a), Deno.statSync(b)];
    return x.size === y.size && (x.mtime?.getTime() ?? 0) <= (y.mtime?.getTime() ?? 0);
  } catch {
    return false;
  }
}

/** Writes `text` to `path` through a temporary file beside it, with `mode`. */
function writeReplacing(path: string, data: string | Uint8Array, mode: number): void {
  const tmp = `${path}.tmp-${Deno.pid}`;
  if (typeof data === "string") Deno.writeTextFileSync(tmp, data, { mode });
  else Deno.writeFileSync(tmp, data, { mode });
  Deno.chmodSync(tmp, mode);
  Deno.renameSync(tmp, path);
}

/**
 * Installs the launcher (PREFIX/bin/fusetrace), a copy of this Deno (PREFIX/lib/fusetrace/deno)
 * and the man page (PREFIX/share/man/man1/fusetrace.1). PREFIX: /usr/local for root, else
 * ~/.local. The checkout's modules must be cached (the caller runs from it).
 * @throws {UsageError} when a directory cannot be written
 */
export async function install(man: string, prefix?: string): Promise<Installed> {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const home = Deno.env.get("HOME") ?? "/root";
  const base = prefix ?? (Deno.uid() === 0 ? "/usr/local" : `${home}/.local`);
  const bin = `${base}/bin`, lib = `${base}/lib/fusetrace`, man1 = `${base}/share/man/man1`;
  try {
    for (const d of [bin, lib, man1]) Deno.mkdirSync(d, { recursive: true });
    // The Deno running now, copied unless it is the copy: npx keeps its binary in a cache.
    const deno = `${lib}/deno`;
    if (Deno.execPath() !== deno && !sameFile(Deno.execPath(), deno)) {
      writeReplacing(deno, Deno.readFileSync(Deno.execPath()), 0o755);
    }
    // Every module the command line loads, cached now: the launcher runs with --cached-only.
    const cache = await new Deno.Command(deno, {
      args: ["cache", "--config", `${root}/deno.json`, `${root}/cli.ts`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!cache.success) {
      throw new UsageError(
        `Cannot cache the modules of ${root}/cli.ts: ${
          new TextDecoder().decode(cache.stderr).trim().split("\n").pop()
        }`,
      );
    }
    const info = await new Deno.Command(deno, { args: ["info", "--json"], stdout: "piped" })
      .output();
    const denoDir = String(JSON.parse(new TextDecoder().decode(info.stdout)).denoDir ?? "");
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const launcher = `${bin}/fusetrace`;
    writeReplacing(
      launcher,
      [
        "#!/bin/sh",
        `# fusetrace ${VERSION}: runs ${root}/cli.ts with the Deno it was installed with, from the`,
        "# modules cached then (no network). Made by `fusetrace install`; run it again after an update.",
        ...(denoDir ? [`export DENO_DIR=${q(denoDir)}`] : []),
        "export DENO_NO_UPDATE_CHECK=1",
        `exec ${q(deno)} run -A --cached-only --config ${q(`${root}/deno.json`)} ${
          q(`${root}/cli.ts`)
        } "$@"`,
        "",
      ].join("\n"),
      0o755,
    );
    const page = `${man1}/fusetrace.1`;
    writeReplacing(page, man, 0o644);
    const onPath = (Deno.env.get("PATH") ?? "").split(":").includes(bin);
    return { launcher, deno, man: page, onPath };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`Cannot install under ${base}: ${(e as Error).message}`);
  }
}
