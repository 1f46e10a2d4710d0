/**
 * Ctrl-C, SIGTERM, SIGHUP (the terminal closed) and SIGQUIT as a stop request: every long-running
 * command (trace, count, demo, testfs) stops cleanly and writes what it collected on any of them.
 * @module
 */

const STOP: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];

/** Calls `fn` on a stop signal until the returned function removes the listeners. */
export function onStopSignals(fn: () => void): () => void {
  for (const s of STOP) Deno.addSignalListener(s, fn);
  return () => STOP.forEach((s) => Deno.removeSignalListener(s, fn));
}
