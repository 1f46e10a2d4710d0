/**
 * A CernVM-FS client seen from outside: which repository a `cvmfs2` process serves and what its
 * control socket (the one `cvmfs_talk` uses) answers.
 * @module
 */
import { CVMFS_LIBRARY, libraryOf } from "./daemon.ts";

/** What a CVMFS daemon of a mount says of itself. */
export interface CvmfsInstance {
  /** The repository (`sft.cern.ch`). */
  repository: string;
  /** The FUSE library it runs (`libcvmfs_fuse3.so.2.12.0`): the evidence that it is CVMFS. */
  library: string;
  /** Its control socket: `cvmfs_io.REPOSITORY` in its workspace (the daemon's cwd). */
  socket: string;
  /** Why the socket did not answer, or undefined when it did. */
  talkError?: string;
  /** CVMFS_INSTRUMENT_FUSE as the daemon runs it (its `parameters`); undefined: not asked. */
  instrumented?: boolean;
  /** The client's version (`version`: its FUSE module's). */
  version?: string;
}

/**
 * Sends one command to a CVMFS control socket and reads the answer (the daemon closes the
 * connection after it), within `timeoutMs`: a hung daemon must not hang the caller.
 * @throws {Error} when the socket cannot be reached, or does not answer in time
 */
export async function cvmfsTalk(
  socket: string,
  command: string,
  timeoutMs = 2000,
): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(command));
    return await new Response(conn.readable).text();
  } catch (e) {
    throw new Error(`no answer within ${timeoutMs} ms (${(e as Error).message})`);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
}

/** Whether a CVMFS parameter value switches a feature on (its OptionsManager::IsOn). */
function isOn(v: string): boolean {
  return ["yes", "on", "1", "true"].includes(v.toLowerCase());
}

/**
 * The CVMFS instance `pid` runs for the mount at `mountPoint`, or undefined when `pid` maps no
 * CVMFS library. The repository is the argument before the mount point on its command line
 * (`cvmfs2 -o … sft.cern.ch /cvmfs/sft.cern.ch`); the socket is asked for its version and
 * parameters.
 */
export async function cvmfsInstance(
  pid: number,
  mountPoint: string,
): Promise<CvmfsInstance | undefined> {
  const lib = libraryOf(pid, CVMFS_LIBRARY);
  if (!lib) return undefined;
  let args: string[] = [];
  let cwd = "";
  try {
    args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
    cwd = Deno.readLinkSync(`/proc/${pid}/cwd`);
  } catch { /* gone */ }
  const at = args.lastIndexOf(mountPoint);
  const repository = at > 1 ? args[at - 1]! : mountPoint.split("/").filter(Boolean).pop() ?? "";
  const socket = `${cwd}/cvmfs_io.${repository}`;
  const out: CvmfsInstance = {
    repository,
    library: lib.slice(lib.lastIndexOf("/") + 1),
    socket,
  };
  try {
    // "2.12.0 (CernVM-FS Fuse Module)\n2.12.0 (Loader)\n"
    out.version = (await cvmfsTalk(`/proc/${pid}/root${socket}`, "version")).split(/\s/)[0];
    const params = await cvmfsTalk(`/proc/${pid}/root${socket}`, "parameters");
    const m = /^CVMFS_INSTRUMENT_FUSE=(\S*)/m.exec(params);
    out.instrumented = m ? isOn(m[1]!) : false;
  } catch (e) {
    out.talkError = (e as Error).message;
  }
  return out;
}
