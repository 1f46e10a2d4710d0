import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR */
const plugin: ProbePlugin = definePlugin({
  name: "xattr",
  description: "GETXATTR, LISTXATTR, SETXATTR, REMOVEXATTR",
  opcodes: [22, 23, 21, 24],
  kernelFunctions: ["fuse_getxattr", "fuse_listxattr", "fuse_setxattr", "fuse_removexattr"],
  daemonSymbols: ["cvmfs_getxattr", "cvmfs_listxattr"],
});
export default plugin;
