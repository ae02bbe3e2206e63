/**
 * Login throttling per key (an account name, a client address). After `freeAttempts` failures
 * within `windowMs`, each further attempt must wait 2^(excess) seconds (capped at `maxDelayMs`).
 * In memory on purpose: it resets on restart, which is acceptable for slowing online guessing.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; first: number; last: number }>();

  constructor(
    private readonly freeAttempts = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly maxDelayMs = 15 * 60_000,
  ) {}

  /** Milliseconds the caller must still wait before `key` may try again (0 = go ahead). */
  retryAfterMs(key: string, now = Date.now()): number {
    const f = this.failures.get(key);
    if (!f) return 0;
    if (now - f.first > this.windowMs && now - f.last > this.maxDelayMs) {
      this.failures.delete(key);
      return 0;
    }
    const excess = f.count - this.freeAttempts;
    if (excess < 0) return 0;
    const delay = Math.min(this.maxDelayMs, 1000 * 2 ** excess);
    return Math.max(0, f.last + delay - now);
  }

  /** True while `key` has failures on record (within the window or an unfinished delay). */
  hasFailed(key: string, now = Date.now()): boolean {
    this.retryAfterMs(key, now); // drops an expired record
    return this.failures.has(key);
  }

  fail(key: string, now = Date.now()): void {
    const f = this.failures.get(key);
    if (!f || now - f.first > this.windowMs) this.failures.set(key, { count: 1, first: now, last: now });
    else {
      f.count++;
      f.last = now;
    }
    // Bound memory under a spray of random usernames.
    if (this.failures.size > 10_000) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  succeed(key: string): void {
    this.failures.delete(key);
  }
}
