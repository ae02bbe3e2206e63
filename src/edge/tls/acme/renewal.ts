/**
 * The clock rules of BERTH_TLS=acme, pure: when a certificate is renewed, how long a failed order
 * waits before the next try, and how many on-demand orders an hour may start.
 */

const DAY_MS = 86_400_000;

/**
 * When a certificate valid `notBefore`…`notAfter` is due for renewal: `renewDays` before it
 * expires or at `fraction` (2/3) of its lifetime, whichever comes first — except that the days
 * rule never renews in the first half of a short-lived certificate's life (a 6-day certificate
 * with 30 renewal days would otherwise be "due" the moment it is issued, and renewed in a loop):
 * there the fraction alone decides.
 */
export function renewalDue(notBefore: Date, notAfter: Date, renewDays: number, fraction = 2 / 3): Date {
  const start = notBefore.getTime();
  const life = notAfter.getTime() - start;
  const byFraction = start + life * fraction;
  const byDays = notAfter.getTime() - renewDays * DAY_MS;
  return new Date(byDays < start + life / 2 ? byFraction : Math.min(byFraction, byDays));
}

/** Wait before try number `failures + 1` after `failures` failed ones: 1 min, 2, 4, … capped at 6 h. */
export function retryDelayMs(failures: number, baseMs = 60_000, maxMs = 6 * 3_600_000): number {
  if (failures <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}

/** At most `perHour` events in any sliding hour (0: none). */
export class HourlyLimit {
  private readonly times: number[] = [];

  constructor(
    private readonly perHour: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one slot if the last hour has one free. */
  take(): boolean {
    const t = this.now();
    while (this.times.length > 0 && this.times[0]! <= t - 3_600_000) this.times.shift();
    if (this.times.length >= this.perHour) return false;
    this.times.push(t);
    return true;
  }
}
