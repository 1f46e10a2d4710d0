import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** FSYNC, FSYNCDIR */
const plugin: ProbePlugin = definePlugin({
  name: "fsync",
  description: "FSYNC, FSYNCDIR",
  opcodes: [20, 30],
  kernelFunctions: ["fuse_fsync", "fuse_dir_fsync"],
});
export default plugin;
