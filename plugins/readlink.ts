import { definePlugin } from "../probes/plugin.ts";

/** READLINK */
export default definePlugin({
  name: "readlink",
  description: "READLINK",
  opcodes: [5],
  kernelFunctions: ["fuse_follow_link", "fuse_get_link"],
  daemonSymbols: ["cvmfs_readlink"],
});
