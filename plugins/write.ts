import { definePlugin } from "../probes/plugin.ts";

/** WRITE: file data */
export default definePlugin({
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
