import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** RELEASE, RELEASEDIR, FLUSH */
const plugin: ProbePlugin = definePlugin({
  name: "release",
  description: "RELEASE, RELEASEDIR, FLUSH",
  opcodes: [18, 29, 25],
  kernelFunctions: ["fuse_release", "fuse_dir_release", "fuse_flush"],
  daemonSymbols: ["cvmfs_release", "cvmfs_releasedir"],
});
export default plugin;
