/**
 * Errors a user caused (bad flag, bad file, missing privilege): the CLI prints their message on one
 * line and exits with status 2, without a stack trace.
 * @module
 */

/** A usage or input error: exit status 2, message only. */
export class UsageError extends Error {
  override name = "UsageError";
}
