/**
 * FUSE opcodes (include/uapi/linux/fuse.h) and their names.
 * @module
 */

/** Opcode number → name, as in the kernel's `enum fuse_opcode`. */
export const OPCODES: Readonly<Record<number, string>> = {
  1: "LOOKUP",
  2: "FORGET",
  3: "GETATTR",
  4: "SETATTR",
  5: "READLINK",
  6: "SYMLINK",
  8: "MKNOD",
  9: "MKDIR",
  10: "UNLINK",
  11: "RMDIR",
  12: "RENAME",
  13: "LINK",
  14: "OPEN",
  15: "READ",
  16: "WRITE",
  17: "STATFS",
  18: "RELEASE",
  20: "FSYNC",
  21: "SETXATTR",
  22: "GETXATTR",
  23: "LISTXATTR",
  24: "REMOVEXATTR",
  25: "FLUSH",
  26: "INIT",
  27: "OPENDIR",
  28: "READDIR",
  29: "RELEASEDIR",
  30: "FSYNCDIR",
  31: "GETLK",
  32: "SETLK",
  33: "SETLKW",
  34: "ACCESS",
  35: "CREATE",
  36: "INTERRUPT",
  37: "BMAP",
  38: "DESTROY",
  39: "IOCTL",
  40: "POLL",
  41: "NOTIFY_REPLY",
  42: "BATCH_FORGET",
  43: "FALLOCATE",
  44: "READDIRPLUS",
  45: "RENAME2",
  46: "LSEEK",
  47: "COPY_FILE_RANGE",
  48: "SETUPMAPPING",
  49: "REMOVEMAPPING",
  50: "SYNCFS",
  51: "TMPFILE",
  52: "STATX",
  53: "COPY_FILE_RANGE_64",
  4096: "CUSE_INIT",
};

/** Opcodes that never get a reply: counted, never timed. */
export const NO_REPLY: ReadonlySet<number> = new Set([2, 42]);

/**
 * Requests no process waits for: those without a reply (FORGET, BATCH_FORGET) and those the
 * kernel sends in the background once a file's last reference goes (RELEASE, RELEASEDIR).
 */
export const UNWAITED: ReadonlySet<string> = new Set([
  "FORGET",
  "BATCH_FORGET",
  "RELEASE",
  "RELEASEDIR",
]);

/**
 * The name of an opcode; unknown numbers become `OP_<n>`.
 * @example Names
 * ```ts
 * import { opcodeName } from "./opcodes.ts";
 * opcodeName(1); // "LOOKUP"
 * opcodeName(99); // "OP_99"
 * ```
 */
export function opcodeName(op: number): string {
  return OPCODES[op] ?? `OP_${op}`;
}
