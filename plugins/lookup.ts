import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** LOOKUP: name to inode (fuse_lookup, dentry revalidation) */
const plugin: ProbePlugin = definePlugin({
  name: "lookup",
  description: "LOOKUP: name to inode (fuse_lookup, dentry revalidation)",
  opcodes: [1],
  kernelFunctions: ["fuse_lookup", "fuse_lookup_name", "fuse_dentry_revalidate"],
  daemonSymbols: ["cvmfs_lookup"],
});
export default plugin;
