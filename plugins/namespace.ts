import { definePlugin, type ProbePlugin } from "../probes/plugin.ts";

/** CREATE, MKDIR, MKNOD, SYMLINK, UNLINK, RMDIR, RENAME, RENAME2, LINK, SETATTR, TMPFILE */
const plugin: ProbePlugin = definePlugin({
  name: "namespace",
  description:
    "CREATE, MKDIR, MKNOD, SYMLINK, UNLINK, RMDIR, RENAME, RENAME2, LINK, SETATTR, TMPFILE",
  opcodes: [35, 9, 8, 6, 10, 11, 12, 45, 13, 4, 51],
  kernelFunctions: [
    "fuse_create",
    "fuse_atomic_open",
    "fuse_create_open",
    "fuse_mkdir",
    "fuse_mknod",
    "fuse_symlink",
    "fuse_unlink",
    "fuse_rmdir",
    "fuse_rename2",
    "fuse_link",
    "fuse_setattr",
    "fuse_tmpfile",
  ],
});
export default plugin;
