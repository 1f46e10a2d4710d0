/**
 * A plugin file: READ requests by command name (a probe of its own, with a filter on a tracepoint
 * argument) and READ reply sizes per mount (a statement at the request source's end hook).
 *
 *   fusetrace trace --plugin-file examples/plugins/readers.ts -- cat /cvmfs/…/file
 */
import { definePlugin } from "../../mod.ts";

interface Readers {
  byCommand: { comm: string; reads: number }[];
  sizes: { mount: string; atLeast: number; count: number }[];
}

export default definePlugin<Readers>({
  name: "readers",
  description: "READ requests by command, and READ reply sizes (power-of-two buckets) per mount",
  observes: [15], // READ is traced even if the read plugin is not selected
  sources: ["request"],
  program(b) {
    const comms = b.map("comms"), sizes = b.map("sizes", { keys: 2 }), e = b.local("e");
    b.probe("tracepoint:fuse:fuse_request_send", [`${comms}[comm] = count();`], {
      filter: `${b.arg("opcode")} == 15`,
    });
    b.at("request.end", [...b.log2("$len - 16", e), `${sizes}[$c, ${e}] = count();`], {
      opcodes: [15],
    });
  },
  parse: (maps, ctx) => ({
    byCommand: (maps.get("comms") ?? []).map((m) => ({ comm: m.key[0]!, reads: m.value }))
      .sort((a, b) => b.reads - a.reads || a.comm.localeCompare(b.comm)).slice(0, ctx.top),
    sizes: (maps.get("sizes") ?? []).map((m) => ({
      mount: ctx.mountOf(Number(m.key[0])),
      atLeast: 2 ** Number(m.key[1]),
      count: m.value,
    })).sort((a, b) => a.mount.localeCompare(b.mount) || a.atLeast - b.atLeast),
  }),
  render: (r) =>
    [
      ...r.byCommand.map((x) => `${x.comm}: ${x.reads} READ requests`),
      ...r.sizes.map((x) => `${x.mount}: ${x.count} READ replies of ${x.atLeast}+ bytes`),
    ].join("\n"),
});
