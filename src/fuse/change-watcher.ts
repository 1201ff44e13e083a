/**
 * Changes made outside the mount (the CLI, the SDK, another mount writing the same database):
 * a counter that moves when another process wrote (Store.dataVersion) is polled, and when it
 * moved the kernel is told to drop its caches, which lets the cache timeouts be long.
 */
export const WATCH_MS = 100;

/** Calls onChange after each poll that found counter changed; returns the function that stops. */
export function watchChanges(counter: () => number, onChange: () => void, intervalMs = WATCH_MS): () => void {
  let last = counter();
  const timer = setInterval(() => {
    let now: number;
    try {
      now = counter();
    } catch {
      return;
    }
    if (now !== last) {
      last = now;
      onChange();
    }
  }, intervalMs);
  // it must not keep a process alive whose session has ended
  timer.unref();
  return () => clearInterval(timer);
}
