import { randomBytes } from 'node:crypto';

/**
 * One-time hand-off of a Berth session to an app origin (subdomain mode). The dashboard mints a
 * ticket for (user, app host); the app host redeems it once, within `ticketTtlMs`, for an
 * app-origin session id that is valid only on that host. The dashboard's own cookie never reaches
 * an app origin. Kept in memory on purpose: after a restart users simply pass the hand-off again.
 */
export class HandoffStore {
  private readonly tickets = new Map<string, { userId: string; host: string; expires: number }>();
  private readonly sessions = new Map<string, { userId: string; host: string; expires: number }>();

  constructor(
    private readonly ticketTtlMs = 60_000,
    private readonly sessionTtlMs = 12 * 3_600_000,
  ) {}

  mint(userId: string, host: string, now = Date.now()): string {
    this.sweep(now);
    const ticket = randomBytes(32).toString('base64url');
    this.tickets.set(ticket, { userId, host: host.toLowerCase(), expires: now + this.ticketTtlMs });
    return ticket;
  }

  /** Consumes the ticket (even when it is for another host) and returns an app session id, or null. */
  redeem(ticket: string, host: string, now = Date.now()): string | null {
    const t = this.tickets.get(ticket);
    if (!t) return null;
    this.tickets.delete(ticket);
    if (t.expires < now || t.host !== host.toLowerCase()) return null;
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, { userId: t.userId, host: t.host, expires: now + this.sessionTtlMs });
    return id;
  }

  /** The user of an app session on `host`, or null. */
  userOf(sessionId: string | undefined, host: string, now = Date.now()): string | null {
    if (!sessionId) return null;
    const s = this.sessions.get(sessionId);
    if (!s || s.host !== host.toLowerCase()) return null;
    if (s.expires < now) {
      this.sessions.delete(sessionId);
      return null;
    }
    return s.userId;
  }

  /** Ends every app session of a user (logout, password change, removal). */
  endUser(userId: string): void {
    for (const [id, s] of this.sessions) if (s.userId === userId) this.sessions.delete(id);
  }

  private sweep(now: number): void {
    for (const [k, t] of this.tickets) if (t.expires < now) this.tickets.delete(k);
    for (const [k, s] of this.sessions) if (s.expires < now) this.sessions.delete(k);
  }
}
