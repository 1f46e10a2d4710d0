/**
 * The real CernVM-FS client for the tests: built once from the source snapshot in
 * ../shared/cvmfs/ (cached outside the repository, keyed by the tarball's sha256), a repository
 * made without cvmfs_server, served by a loopback HTTP server that can delay each object, and
 * mounted with `cvmfs2` at /cvmfs/FQRN. Nothing stays mounted or running after
 * {@link withPythonClient}, also after a failure; temporary directories go when the process exits.
 * @module
 */
import { deviceOf, waitForMount } from "../../util/fs.ts";

const here = new URL(".", import.meta.url).pathname;
const root = new URL("../..", import.meta.url).pathname;

/** The source snapshot: `$FUSETRACE_CVMFS_SOURCE`, else ../shared/cvmfs/ beside the checkout. */
export const SOURCE = Deno.env.get("FUSETRACE_CVMFS_SOURCE") ??
  `${root}../shared/cvmfs/cvmfs-2.12.0-snapshot.tar.xz`;
/** Where builds are cached: `$FUSETRACE_CVMFS_CACHE`, else /var/cache/fusetrace-cvmfs. */
export const CACHE = Deno.env.get("FUSETRACE_CVMFS_CACHE") ?? "/var/cache/fusetrace-cvmfs";

/** Why the CVMFS tests cannot run here, or undefined when they can. */
export function unavailable(): string | undefined {
  try {
    Deno.statSync(SOURCE);
  } catch {
    return `the CernVM-FS source ${SOURCE} is absent (set FUSETRACE_CVMFS_SOURCE)`;
  }
  if (Deno.uid() !== 0) return "building and mounting CernVM-FS needs root";
  return undefined;
}

/** Directories removed when the test process exits. */
const scratch: string[] = [];
function removeAtExit(dir: string) {
  if (!scratch.length) {
    globalThis.addEventListener("unload", () => {
      for (const d of scratch) {
        try {
          Deno.removeSync(d, { recursive: true });
        } catch { /* gone */ }
      }
    });
  }
  scratch.push(dir);
}

async function sh(
  cmd: string,
  args: string[],
  what: string,
  env?: Record<string, string>,
): Promise<string> {
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(env ? { env } : {}),
  }).output();
  const dec = new TextDecoder();
  if (!o.success) {
    throw new Error(`${what} failed (exit ${o.code}):\n${dec.decode(o.stderr).slice(-3000)}`);
  }
  return dec.decode(o.stdout);
}

let built: Promise<string> | undefined;
/** The prefix (bin/, lib/) of the client build; builds it the first time (about 8 minutes). */
export function buildClient(): Promise<string> {
  return built ??= (async () => {
    Deno.mkdirSync(CACHE, { recursive: true });
    console.error(
      `cvmfs: the client from ${SOURCE}, cached in ${CACHE} (a first build takes about 8 minutes)`,
    );
    const out = await sh("bash", [`${here}build.sh`, SOURCE, CACHE], "the CernVM-FS build");
    return out.trim().split("\n").at(-1)!;
  })();
}

/** One line of the HTTP server's log. */
export interface Fetch {
  path: string;
  status: number;
  bytes: number;
  delayed: boolean;
}

/** The loopback HTTP server of a repository (tests/cvmfs/http.ts in a process of its own). */
export class HttpServer {
  #child: Deno.ChildProcess;
  #lines: string[] = [];
  #done: Promise<void>;
  #listening = Promise.withResolvers<number>();

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#done = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const l of lines) {
          const m = /^port (\d+)$/.exec(l);
          if (m) this.#listening.resolve(Number(m[1]));
          else this.#lines.push(l);
        }
      }
      this.#listening.reject(new Error("the repository's HTTP server exited"));
    })();
  }

  /** The port it listens on, 127.0.0.1. */
  port = 0;

  /** Serves `dir` on 127.0.0.1, each object under data/ `delayMs` late. */
  static async start(dir: string, delayMs = 0): Promise<HttpServer> {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--cached-only", `${here}http.ts`, dir, String(delayMs)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const s = new HttpServer(child);
    s.port = await s.#listening.promise;
    return s;
  }

  /** The requests answered since the last call. */
  takeLog(): Fetch[] {
    return this.#lines.splice(0).map((l) => {
      const [, path, status, bytes, delayed] = l.split(" ");
      return {
        path: path!,
        status: Number(status),
        bytes: Number(bytes),
        delayed: delayed === "1",
      };
    });
  }

  /** Stops the server. */
  async close(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* gone */ }
    await this.#child.status;
    await this.#done;
  }
}

/** A repository: its name, keys and storage. */
export interface Repository {
  fqrn: string;
  work: string;
  /** WORK/srv: serve this directory. */
  srv: string;
  pub: string;
}

/**
 * Makes repository `fqrn` in a new directory from a tarball of its content: keys, whitelist,
 * create, ingest, sign (tests/cvmfs/repo.sh); serve its `srv` directory.
 */
export async function makeRepository(
  prefix: string,
  fqrn: string,
  tarball: string,
): Promise<Repository> {
  const work = Deno.makeTempDirSync({ prefix: "fusetrace-cvmfs-repo-" });
  removeAtExit(work);
  await sh("bash", [`${here}repo.sh`, prefix, work, fqrn, tarball], "making the repository");
  return { fqrn, work, srv: `${work}/srv`, pub: `${work}/keys/${fqrn}.pub` };
}

/** A mounted client. */
export interface Client {
  fqrn: string;
  mnt: string;
  /** The cvmfs2 process serving the mount. */
  pid: number;
  cache: string;
  /** `cvmfs_talk` through the instance's socket. */
  talk(...cmd: string[]): Promise<string>;
  /** CVMFS's own counters (`internal affairs`), `cvmfs.n_fs_lookup` → value. */
  counters(): Promise<Map<string, number>>;
  /** Unmounts and waits for the daemon to exit. */
  unmount(): Promise<void>;
}

/** Client settings for `repo` served at `port`, cache in `cache`. */
function clientConfig(repo: Repository, port: number, cache: string, extra: string[]): string {
  return [
    `CVMFS_SERVER_URL=http://127.0.0.1:${port}/cvmfs/@fqrn@`,
    `CVMFS_PUBLIC_KEY=${repo.pub}`,
    "CVMFS_HTTP_PROXY=DIRECT",
    `CVMFS_CACHE_BASE=${cache}`,
    "CVMFS_SHARED_CACHE=no",
    "CVMFS_QUOTA_LIMIT=2000",
    "CVMFS_USER=root",
    "CVMFS_MOUNT_DIR=/cvmfs",
    `CVMFS_RELOAD_SOCKETS=${cache}`,
    "CVMFS_INSTRUMENT_FUSE=yes",
    ...extra,
  ].join("\n") + "\n";
}

/**
 * Mounts `repo` at /cvmfs/FQRN with cvmfs2, from `port`, its cache in `cache` (an empty one is a
 * cold start: every object over HTTP). `extra` adds client settings.
 */
export async function mountClient(
  prefix: string,
  repo: Repository,
  port: number,
  cache: string,
  extra: string[] = [],
): Promise<Client> {
  const mnt = `/cvmfs/${repo.fqrn}`;
  Deno.mkdirSync(mnt, { recursive: true });
  Deno.mkdirSync(cache, { recursive: true });
  const config = `${repo.work}/client.conf`;
  Deno.writeTextFileSync(config, clientConfig(repo, port, cache, extra));
  const before = deviceOf("/cvmfs");
  const env = { CVMFS_LIBRARY_PATH: `${prefix}/lib`, LD_LIBRARY_PATH: `${prefix}/lib` };
  const o = await new Deno.Command(`${prefix}/bin/cvmfs2`, {
    args: ["-o", `config=${config},allow_other,fsname=cvmfs2`, repo.fqrn, mnt],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!o.success) {
    const dec = new TextDecoder();
    throw new Error(`cvmfs2 mount failed: ${dec.decode(o.stdout)}${dec.decode(o.stderr)}`);
  }
  const socket = `${cache}/${repo.fqrn}/cvmfs_io.${repo.fqrn}`;
  const talk = (...cmd: string[]) =>
    sh(`${prefix}/bin/cvmfs_talk`, ["-p", socket, ...cmd], `cvmfs_talk ${cmd.join(" ")}`, env);
  let pid: number;
  try {
    await waitForMount(mnt, before);
    pid = Number((await talk("pid")).trim());
  } catch (e) {
    await new Deno.Command("umount", { args: ["-l", mnt], stderr: "null" }).output();
    throw e;
  }
  return {
    fqrn: repo.fqrn,
    mnt,
    pid,
    cache,
    talk,
    counters: async () => {
      const out = new Map<string, number>();
      for (const m of (await talk("internal", "affairs")).matchAll(/^(cvmfs\.\S+)\|(\d+)\|/gm)) {
        out.set(m[1]!, Number(m[2]));
      }
      return out;
    },
    unmount: async () => {
      await new Deno.Command("umount", { args: [mnt], stderr: "null" }).output();
      if (deviceOf(mnt) !== deviceOf("/cvmfs")) {
        await new Deno.Command("umount", { args: ["-l", mnt], stderr: "null" }).output();
      }
      for (let i = 0; i < 100; i++) {
        try {
          Deno.statSync(`/proc/${pid}`);
        } catch {
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    },
  };
}

/**
 * A tarball of `files` (path → content) and of copies of directories (`[source, destination]`,
 * the destination relative to the tree's root), in a new file.
 */
export async function tarballOf(
  files: Map<string, string>,
  copies: [string, string][] = [],
): Promise<string> {
  const dir = Deno.makeTempDirSync({ prefix: "fusetrace-cvmfs-tree-" });
  removeAtExit(dir);
  const tree = `${dir}/tree`;
  Deno.mkdirSync(tree);
  for (const [path, content] of files) {
    const full = `${tree}/${path}`;
    Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(full, content);
  }
  for (const [source, dest] of copies) {
    Deno.mkdirSync(`${tree}/${dest}`, { recursive: true });
    await sh("cp", ["-r", source, `${tree}/${dest}/`], "copying the tree");
  }
  await sh("tar", ["-cf", `${dir}/content.tar`, "-C", tree, "."], "tar");
  return `${dir}/content.tar`;
}

/** Python's stdlib directory (its packages go into the test repositories). */
function stdlib(): string {
  return new TextDecoder().decode(
    new Deno.Command("python3", {
      args: ["-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
      stdout: "piped",
    }).outputSync().stdout,
  ).trim();
}

/** The Python packages under py/ of a test repository, and a start-up that imports them. */
const PACKAGES = ["json", "email", "http", "urllib", "xml", "html"];
export const IMPORTS =
  "import json, email.parser, http.client, urllib.request, xml.dom.minidom, html.parser";

/** The command of a Python start-up from the test repository mounted at `mnt`. */
export function pythonStartUp(mnt: string): string[] {
  return ["env", `PYTHONPATH=${mnt}/py`, "python3", "-c", IMPORTS];
}

const repositories = new Map<string, Promise<{ prefix: string; repo: Repository }>>();
/**
 * Repository `fqrn` of the tests, made once per test process: 30 directories of 100 small files
 * (files/dD/fF) and a few of Python's packages under py/ ({@link IMPORTS}).
 */
export function pythonRepository(fqrn: string): Promise<{ prefix: string; repo: Repository }> {
  let r = repositories.get(fqrn);
  if (!r) {
    r = (async () => {
      const prefix = await buildClient();
      const files = new Map<string, string>();
      for (let d = 0; d < 30; d++) {
        for (let f = 0; f < 100; f++) files.set(`files/d${d}/f${f}`, `file ${d}/${f}\n`);
      }
      const py = stdlib();
      const tar = await tarballOf(files, PACKAGES.map((p) => [`${py}/${p}`, "py"]));
      return { prefix, repo: await makeRepository(prefix, fqrn, tar) };
    })();
    repositories.set(fqrn, r);
  }
  return r;
}

/**
 * Serves the test repository `fqrn` (each object `delayMs` late), mounts it at /cvmfs/FQRN with a
 * new, empty cache (`settings` added to the client's), runs `fn`; then unmounts, stops the server
 * and removes the cache, also after a failure.
 */
export async function withPythonClient<T>(
  fqrn: string,
  o: { delayMs?: number; settings?: string[] },
  fn: (c: Client, http: HttpServer) => Promise<T>,
): Promise<T> {
  const { prefix, repo } = await pythonRepository(fqrn);
  const http = await HttpServer.start(repo.srv, o.delayMs ?? 0);
  const cache = Deno.makeTempDirSync({ prefix: "fusetrace-cvmfs-cache-" });
  let client: Client | undefined;
  try {
    client = await mountClient(prefix, repo, http.port, cache, o.settings ?? []);
    return await fn(client, http);
  } finally {
    await client?.unmount();
    await http.close();
    Deno.removeSync(cache, { recursive: true });
  }
}
