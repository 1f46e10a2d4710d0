import { definePlugin } from "../probes/plugin.ts";

/** READDIR, READDIRPLUS */
export default definePlugin({
  name: "readdir",
  description: "READDIR, READDIRPLUS",
  opcodes: [28, 44],
  kernelFunctions: ["fuse_readdir"],
  daemonSymbols: ["cvmfs_readdir"],
});
