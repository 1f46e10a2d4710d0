/**
 * errno names and numbers, shared by the engine, testfs and the command line.
 * @module
 */

/** errno numbers → names, for the ones FUSE daemons return. */
export const ERRNO: Readonly<Record<number, string>> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  5: "EIO",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  25: "ENOTTY",
  28: "ENOSPC",
  30: "EROFS",
  34: "ERANGE",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  39: "ENOTEMPTY",
  61: "ENODATA",
  95: "EOPNOTSUPP",
};

/** `ENOENT` for 2, `E123` for unknown numbers. */
export function errnoName(n: number): string {
  return ERRNO[n] ?? `E${n}`;
}

/** The errno number of a name from {@link errnoName}, or undefined. */
export function errnoNumber(name: string): number | undefined {
  const m = /^E(\d+)$/.exec(name);
  if (m) return Number(m[1]);
  const hit = Object.entries(ERRNO).find(([, v]) => v === name);
  return hit ? Number(hit[0]) : undefined;
}
