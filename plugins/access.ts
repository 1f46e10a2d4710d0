import { definePlugin } from "../probes/plugin.ts";

/** ACCESS: permission checks */
export default definePlugin({
  name: "access",
  description: "ACCESS: permission checks",
  opcodes: [34],
  kernelFunctions: ["fuse_permission", "fuse_access"],
});
