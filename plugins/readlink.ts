import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** READLINK */
const plugin: ProbePlugin = definePlugin({
  name: "readlink",
  description: "READLINK",
  opcodes: [5],
  kernelFunctions: ["fuse_follow_link", "fuse_get_link"],
  daemonSymbols: ["cvmfs_readlink"],
});
export default plugin;
