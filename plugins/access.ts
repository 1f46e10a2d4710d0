import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** ACCESS: permission checks */
const plugin: ProbePlugin = definePlugin({
  name: "access",
  description: "ACCESS: permission checks",
  opcodes: [34],
  kernelFunctions: ["fuse_permission", "fuse_access"],
});
export default plugin;
