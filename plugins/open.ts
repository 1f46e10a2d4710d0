import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** OPEN, OPENDIR */
const plugin: ProbePlugin = definePlugin({
  name: "open",
  description: "OPEN, OPENDIR",
  opcodes: [14, 27],
  kernelFunctions: ["fuse_open", "fuse_dir_open", "fuse_open_common", "fuse_do_open"],
  daemonSymbols: ["cvmfs_open", "cvmfs_opendir"],
});
export default plugin;
