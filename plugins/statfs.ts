import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** STATFS */
const plugin: ProbePlugin = definePlugin({
  name: "statfs",
  description: "STATFS",
  opcodes: [17],
  kernelFunctions: ["fuse_statfs"],
  daemonSymbols: ["cvmfs_statfs"],
});
export default plugin;
