import { definePlugin } from "../probes/plugin.ts";

/** FSYNC, FSYNCDIR */
export default definePlugin({
  name: "fsync",
  description: "FSYNC, FSYNCDIR",
  opcodes: [20, 30],
  kernelFunctions: ["fuse_fsync", "fuse_dir_fsync"],
});
