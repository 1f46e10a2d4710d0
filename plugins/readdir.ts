import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** READDIR, READDIRPLUS */
const plugin: ProbePlugin = definePlugin({
  name: "readdir",
  description: "READDIR, READDIRPLUS",
  opcodes: [28, 44],
  kernelFunctions: ["fuse_readdir"],
  daemonSymbols: ["cvmfs_readdir"],
});
export default plugin;
