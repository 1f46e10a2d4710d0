import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** GETATTR: inode attributes (stat) */
const plugin: ProbePlugin = definePlugin({
  name: "getattr",
  description: "GETATTR: inode attributes (stat)",
  opcodes: [3],
  kernelFunctions: ["fuse_getattr", "fuse_do_getattr", "fuse_do_statx"],
  daemonSymbols: ["cvmfs_getattr"],
});
export default plugin;
