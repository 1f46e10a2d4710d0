/**
 * The built-in plugins: one timing plugin per FUSE callback group, and the analyses (`negative`,
 * `requesters`, `sizes`) that bring their own snippets and parsers.
 * @module
 */
import { PluginRegistry, type ProbePlugin } from "../probes/plugin.ts";
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
import negative from "./negative.ts";
import requesters from "./requesters.ts";
import sizes from "./sizes.ts";

export { access, forget, fsync, getattr, lookup, namespace, open, other, read, readdir, readlink };
export { negative, release, requesters, sizes, statfs, write, xattr };
export type { NegativeName, NegativeSection } from "./negative.ts";
export { negativePath } from "./negative.ts";
export type { Requester, RequestersSection } from "./requesters.ts";
export type { SizeHistogram, SizesSection } from "./sizes.ts";

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

/** The built-in analyses: selected by name only (`--plugins negative,requesters,sizes`). */
export const builtinAnalyses: readonly ProbePlugin[] = [
  negative as ProbePlugin,
  requesters as ProbePlugin,
  sizes as ProbePlugin,
];

/** A registry of every built-in plugin (a script adds its own with `add()`). */
export function builtinRegistry(): PluginRegistry {
  return new PluginRegistry([...builtinPlugins, ...builtinAnalyses]);
}
