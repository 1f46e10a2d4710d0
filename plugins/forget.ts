import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** FORGET, BATCH_FORGET (no reply: counted, not timed) */
const plugin: ProbePlugin = definePlugin({
  name: "forget",
  description: "FORGET, BATCH_FORGET (no reply: counted, not timed)",
  opcodes: [2, 42],
  daemonSymbols: ["cvmfs_forget"],
});
export default plugin;
