import { definePlugin } from "../probes/plugin.ts";

/** STATFS */
export default definePlugin({
  name: "statfs",
  description: "STATFS",
  opcodes: [17],
  kernelFunctions: ["fuse_statfs"],
  daemonSymbols: ["cvmfs_statfs"],
});
