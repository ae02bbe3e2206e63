/**
 * Requests per minute per key (a workspace, a user), as a token bucket: a key may burst up to
 * `perMinute` requests, then gets one more every 60/perMinute seconds. In memory on purpose: a
 * restart refills every bucket, which is acceptable for a spending guard.
 */
export class RequestRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;
  private lastSweep = 0;

  constructor(private readonly perMinute: number) {
    this.perMs = perMinute / 60_000;
  }

  /** Takes one request from `key`'s budget: 0 when allowed, else milliseconds until the next one is. */
  take(key: string, now = Date.now()): number {
    if (this.perMinute <= 0) return 0;
    this.sweep(now);
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * this.perMs);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.perMs);
  }

  /** Drops buckets that have refilled (their state equals a fresh one), at most once a minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.perMinute) this.buckets.delete(k);
  }
}
