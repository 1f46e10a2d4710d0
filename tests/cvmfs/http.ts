/**
 * A static HTTP server for a CernVM-FS repository, on loopback: `deno run -A http.ts DIR DELAY_MS`.
 * Each object under `…/data/` (file contents and catalogs) is answered DELAY_MS after its request —
 * a slow network or a cold Stratum 1 —; the manifest and whitelist at once. Prints `port N` when it
 * listens, then one line per answered request: `GET <path> <status> <bytes> <delayed 0|1>`.
 * @module
 */
const [dir, delayArg] = Deno.args;
if (!dir) {
  console.error("usage: http.ts DIR [DELAY_MS]");
  Deno.exit(2);
}
const delayMs = Number(delayArg ?? 0);
const out = new TextEncoder();
const log = (line: string) => Deno.stdout.writeSync(out.encode(line + "\n"));

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => log(`port ${port}`),
}, async (req) => {
  const path = decodeURIComponent(new URL(req.url).pathname);
  const delayed = path.includes("/data/") && delayMs > 0;
  if (delayed) await new Promise((r) => setTimeout(r, delayMs));
  let body: Uint8Array | undefined;
  if (!path.split("/").includes("..")) {
    try {
      body = await Deno.readFile(dir + path);
    } catch { /* 404 */ }
  }
  log(`${req.method} ${path} ${body ? 200 : 404} ${body?.length ?? 0} ${delayed ? 1 : 0}`);
  return body
    ? new Response(req.method === "HEAD" ? null : body as Uint8Array<ArrayBuffer>)
    : new Response("not found", { status: 404 });
});
