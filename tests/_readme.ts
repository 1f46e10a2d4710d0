/**
 * The README's shell commands, by section, and how a test runs one as a user types it: through
 * `sh`, with `fusetrace` on the PATH as the quick start leaves it.
 * @module
 */
import { readRest, readUntil } from "./_helpers.ts";

/** The mount the README's examples trace. */
export const CVMFS = "/cvmfs/sft.cern.ch";
const SKIP = /\(not run by the tests: ([^)]*)\)/;

/** One command of a shell block, its trailing comment apart. */
export interface ReadmeCommand {
  line: string;
  command: string;
  skip?: string;
}

/** The commands of the README's ```sh blocks. */
export function readmeCommands(text: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  for (const block of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split("\n")) {
      if (!line.trim()) continue;
      const m = /^(.*?)(\s+#\s.*)?$/.exec(line)!;
      const skip = SKIP.exec(m[2] ?? "")?.[1];
      out.push({ line, command: m[1]!.trim(), ...(skip ? { skip } : {}) });
    }
  }
  return out;
}

/** The heading of the section run against the real CernVM-FS client (tests/cvmfs/). */
export const CVMFS_SECTION = "## CernVM-FS";

/** The text of the section under `heading` (to the next heading of its level). */
export function section(text: string, heading: string): string {
  const at = text.indexOf(`\n${heading}\n`);
  if (at < 0) return "";
  const next = text.indexOf("\n## ", at + heading.length + 2);
  return text.slice(at, next < 0 ? undefined : next);
}

/** The text without the section under `heading`. */
export function withoutSection(text: string, heading: string): string {
  const s = section(text, heading);
  return s ? text.replace(s, "") : text;
}

/**
 * Commands that run until Ctrl-C: a trace with neither a duration nor a command, testfs, serve;
 * what they print once they run.
 */
function untilCtrlC(command: string): string | undefined {
  if (/^fusetrace testfs /.test(command)) return "testfs mounted at";
  if (/^fusetrace serve\b/.test(command)) return "fusetrace serve: tracing";
  if (!/^fusetrace trace\b/.test(command)) return undefined;
  if (/\s(-d|--duration|--print-program|--ebpf|--list-plugins|--help)\b|\s--\s/.test(command)) {
    return undefined;
  }
  return "Hit Ctrl-C to end.";
}

const lister = () =>
  new Deno.Command("ls", { args: ["-R", CVMFS], stdout: "null", stderr: "null" }).output();

/** Runs one command as typed in `cwd`; its status and output. */
export async function runAsTyped(c: ReadmeCommand, cwd: string) {
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${c.command}`],
    cwd,
    env: { NO_COLOR: "1", PATH: `/usr/local/bin:${Deno.env.get("PATH")}` },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const marker = untilCtrlC(c.command);
  let stderr: Promise<string>;
  if (marker) {
    const err = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const head = await readUntil(err, marker);
    const rest = readRest(err);
    await lister();
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    stderr = rest.then((more) => head + more);
  } else stderr = new Response(child.stderr).text();
  const status = await child.status;
  return { code: status.code, stdout: await stdout, stderr: await stderr };
}
