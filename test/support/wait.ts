/**
 * Waiting in tests that always ends: every wait has a deadline and rejects with a message naming
 * what it waited for, also when one attempt itself never settles (a request to a hung server, an
 * event that never comes). A wait that hangs instead would stop the suite at node:test's file
 * timeout, or never, and say nothing about what was missing.
 */

/** Resolves or rejects like `promise`, or rejects `timed out after <ms> ms waiting for <what>`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface PollOptions {
  /** Pause between attempts (ms). */
  intervalMs?: number;
  /** An error from `fn` that must end the wait at once instead of counting as "not yet". */
  fatal?: (err: unknown) => boolean;
}

/**
 * Calls `fn` until it returns something truthy, for at most `ms` in all. An attempt that errors
 * counts as "not yet" (its message is kept for the timeout error); an attempt that does not
 * settle is cut off at the deadline.
 */
export async function poll<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms: number, opts: PollOptions = {}): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    let v: T | undefined | null | false;
    try {
      v = await within(fn(), left, what);
    } catch (err) {
      if (opts.fatal?.(err)) throw err;
      if (err instanceof Error && err.message.startsWith('timed out after')) {
        throw new Error(`timed out after ${ms} ms waiting for ${what} (an attempt never settled)`);
      }
      last = err instanceof Error ? err.message : String(err);
      v = undefined;
    }
    if (v) return v;
    await new Promise((r) => setTimeout(r, Math.min(opts.intervalMs ?? 100, Math.max(0, deadline - Date.now()))));
  }
}
