import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** WRITE: file data */
const plugin: ProbePlugin = definePlugin({
  name: "write",
  description: "WRITE: file data",
  opcodes: [16],
  kernelFunctions: [
    "fuse_file_aio_write",
    "fuse_file_write_iter",
    "fuse_perform_write",
    "fuse_direct_write_iter",
    "fuse_writepages",
  ],
});
export default plugin;
