import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** READ: file data */
const plugin: ProbePlugin = definePlugin({
  name: "read",
  description: "READ: file data",
  opcodes: [15],
  kernelFunctions: [
    "fuse_file_aio_read",
    "fuse_file_read_iter",
    "fuse_readpage",
    "fuse_readpages",
    "fuse_read_folio",
    "fuse_readahead",
    "fuse_direct_read_iter",
    "fuse_passthrough_read_iter",
  ],
  daemonSymbols: ["cvmfs_read"],
});
export default plugin;
