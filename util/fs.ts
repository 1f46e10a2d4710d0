/**
 * Waiting for a mount, shared by the engine, testfs and the demo.
 * @module
 */

/** The device number (st_dev) of the filesystem at path, or undefined when unreadable. */
export function deviceOf(path: string): number | undefined {
  try {
    return Deno.statSync(path).dev;
  } catch {
    return undefined;
  }
}

/**
 * Waits until a new filesystem is mounted at `path` (its st_dev differs from `before`).
 * @throws {Error} after `timeoutMs`
 */
export async function waitForMount(path: string, before: number | undefined, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const dev = deviceOf(path);
    if (dev !== undefined && dev !== before) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`No filesystem appeared at "${path}" within ${timeoutMs} ms`);
}
