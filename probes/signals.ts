/**
 * Ctrl-C and SIGTERM as a stop request: every long-running command (trace, count, demo, testfs)
 * stops cleanly on either.
 * @module
 */

const STOP: Deno.Signal[] = ["SIGINT", "SIGTERM"];

/** Calls `fn` on SIGINT or SIGTERM until the returned function removes the listeners. */
export function onStopSignals(fn: () => void): () => void {
  for (const s of STOP) Deno.addSignalListener(s, fn);
  return () => STOP.forEach((s) => Deno.removeSignalListener(s, fn));
}
