/**
 * Which certificates BERTH_TLS=acme holds and when it orders: the fixed names (the dashboard
 * host, the apps origin's host, and the wildcards when a DNS provider is set) at start; a routed
 * host (a preview or an app subdomain) on its first handshake; renewals on a timer. A failed
 * order keeps what was serving, records why in the certificate store (→ `berth status`,
 * /api/status) and is retried with exponential backoff.
 *
 * On-demand orders are the attack surface: anyone can send any SNI name. Only a name the edge's
 * current route table serves (or a fixed name) may start an order, at most
 * BERTH_ACME_ON_DEMAND_PER_HOUR new ones an hour, and a name in backoff waits its turn.
 */
import type { SecureContext } from 'node:tls';
import type { Logger } from '../../../log.js';
import { loadCertificate, type CertificateStore, type LoadedCertificate } from '../certificates.js';
import { isOrderName, type AcmeStorage } from './account.js';
import type { IssuedPair } from './orders.js';
import { HourlyLimit, renewalDue, retryDelayMs } from './renewal.js';

export interface ManagerOptions {
  store: CertificateStore;
  storage: Pick<AcmeStorage, 'save' | 'loadAll'>;
  issuer: { issue(names: string[]): Promise<IssuedPair> };
  log: Logger;
  /** Names ordered at start and always kept (dashboard host, apps host, wildcards). */
  fixedNames: string[];
  /** Whether the edge currently routes `host` (its route table's host routes). */
  isRouted: (host: string) => boolean;
  renewDays: number;
  /** Renew at this fraction of the lifetime at the latest (renewal.ts). */
  renewFraction: number;
  checkMs: number;
  onDemandPerHour: number;
  /** How long a handshake waits for an on-demand order before it gets the fallback certificate. */
  handshakeWaitMs?: number;
  /** First retry delay after a failure (doubles each time). */
  retryBaseMs?: number;
  now?: () => number;
}

interface Managed {
  cert: LoadedCertificate | null;
  failures: number;
  nextTryAt: number;
  inflight: Promise<void> | null;
}

/** The certificate-store source name of an ACME certificate. */
export const acmeSource = (name: string): string => `acme:${name}`;

export class AcmeManager {
  private readonly managed = new Map<string, Managed>();
  private readonly limit: HourlyLimit;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** When the hourly limit was last logged (once a minute at most: handshakes can come in floods). */
  private limitLoggedAt = -Infinity;

  constructor(private readonly opts: ManagerOptions) {
    this.now = opts.now ?? Date.now;
    this.limit = new HourlyLimit(opts.onDemandPerHour, this.now);
  }

  /** Serves what is stored, orders the fixed names that have nothing valid, starts the renewal timer. */
  start(): void {
    for (const pair of this.opts.storage.loadAll()) {
      try {
        const cert = loadCertificate(pair.cert, pair.key, new Date(this.now()));
        this.managed.set(pair.name, { cert, failures: 0, nextTryAt: 0, inflight: null });
        this.opts.store.put(acmeSource(pair.name), cert);
      } catch (err) {
        this.opts.log.warn({ err, name: pair.name }, `stored certificate for ${pair.name} is unusable; ordering it again when needed`);
      }
    }
    for (const name of this.opts.fixedNames) {
      if (!this.managed.has(name)) this.managed.set(name, { cert: null, failures: 0, nextTryAt: 0, inflight: null });
    }
    this.check();
    this.timer = setInterval(() => this.check(), this.opts.checkMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** Orders what is missing or due (and not waiting out a backoff); names no longer routed are left to expire. */
  check(): void {
    const now = this.now();
    for (const [name, m] of this.managed) {
      if (m.inflight || now < m.nextTryAt) continue;
      if (!this.opts.fixedNames.includes(name) && !this.opts.isRouted(name)) continue;
      const due = m.cert ? renewalDue(m.cert.notBefore, m.cert.notAfter, this.opts.renewDays, this.opts.renewFraction).getTime() : 0;
      if (now >= due) void this.order(name);
    }
  }

  /** Orders `name` now (joining an order already running); never rejects: failures land in the store. */
  order(name: string): Promise<void> {
    const m = this.managed.get(name) ?? { cert: null, failures: 0, nextTryAt: 0, inflight: null };
    this.managed.set(name, m);
    if (m.inflight) return m.inflight;
    const renewing = m.cert !== null;
    this.opts.log.info({ name, renewing }, renewing ? `renewing the certificate for ${name}` : `ordering a certificate for ${name}`);
    m.inflight = this.opts.issuer
      .issue([name])
      .then((pair) => {
        const cert = loadCertificate(pair.cert, pair.key, new Date(this.now()));
        this.opts.storage.save({ name, ...pair });
        m.cert = cert;
        m.failures = 0;
        m.nextTryAt = 0;
        if (!this.closed) this.opts.store.put(acmeSource(name), cert);
      })
      .catch((err: unknown) => {
        m.failures++;
        const wait = retryDelayMs(m.failures, this.opts.retryBaseMs);
        m.nextTryAt = this.now() + wait;
        const why = err instanceof Error ? err.message : String(err);
        this.opts.store.fail(acmeSource(name), why);
        // The retry comes at its time, not at the next (hourly) check.
        if (!this.closed) setTimeout(() => this.check(), wait + 10).unref();
        this.opts.log.error(
          { err, name, failures: m.failures, retryInSeconds: Math.round(wait / 1000), keepsServing: m.cert?.serial ?? null },
          `${renewing ? 'renewing' : 'ordering'} the certificate for ${name} failed (try ${m.failures}; next in ${Math.round(wait / 1000)} s)${m.cert ? '; the current certificate keeps serving' : ''}: ${why}`,
        );
      })
      .finally(() => {
        m.inflight = null;
      });
    return m.inflight;
  }

  /**
   * Whether a handshake for `host` may start (or join) an order: a DNS name, fixed or routed,
   * not in backoff, and — for a name not held yet — within the hourly on-demand limit.
   */
  private mayOrder(host: string): boolean {
    if (!isOrderName(host) || host.startsWith('*.')) return false;
    const m = this.managed.get(host);
    if (m?.inflight) return true;
    if (m && this.now() < m.nextTryAt) return false;
    if (!this.opts.fixedNames.includes(host) && !this.opts.isRouted(host)) return false;
    if (m?.cert) return false; // held: renewal is the timer's job, not a handshake's
    if (!this.opts.fixedNames.includes(host)) {
      if (!this.limit.take()) {
        if (this.now() - this.limitLoggedAt >= 60_000) {
          this.limitLoggedAt = this.now();
          this.opts.log.warn({ host }, `on-demand certificate for ${host} refused: BERTH_ACME_ON_DEMAND_PER_HOUR (${this.opts.onDemandPerHour}) reached; it gets the default certificate until a slot frees`);
        }
        return false;
      }
    }
    return true;
  }

  /** For the HTTPS listeners: a held certificate at once; a routed host without one waits (bounded) for its order. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const host = servername.toLowerCase().replace(/\.$/, '');
    const answer = (): void => {
      const cert = this.opts.store.select(host);
      if (cert) cb(null, cert.context);
      else cb(new Error('no certificate yet'));
    };
    if (this.opts.store.covers(host) || this.closed || !this.mayOrder(host)) return answer();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      answer();
    };
    const timer = setTimeout(finish, this.opts.handshakeWaitMs ?? 20_000);
    void this.order(host).then(finish);
  };
}
