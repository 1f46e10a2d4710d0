/**
 * The built-in plugins, one per FUSE callback group.
 * @module
 */
import type { ProbePlugin } from "../probes/plugin.ts";
import lookup from "./lookup.ts";
import getattr from "./getattr.ts";
import access from "./access.ts";
import open from "./open.ts";
import read from "./read.ts";
import write from "./write.ts";
import readdir from "./readdir.ts";
import release from "./release.ts";
import readlink from "./readlink.ts";
import statfs from "./statfs.ts";
import xattr from "./xattr.ts";
import namespace from "./namespace.ts";
import fsync from "./fsync.ts";
import forget from "./forget.ts";
import other from "./other.ts";

export { access, forget, fsync, getattr, lookup, namespace, open, other, read, readdir, readlink };
export { release, statfs, write, xattr };

/** Every built-in plugin, in report order. */
export const builtinPlugins: readonly ProbePlugin[] = [
  lookup,
  getattr,
  access,
  open,
  read,
  write,
  readdir,
  release,
  readlink,
  statfs,
  xattr,
  namespace,
  fsync,
  forget,
  other,
];
