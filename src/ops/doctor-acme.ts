/**
 * `berth doctor`'s certificate check for BERTH_TLS=acme: reads what the daemon stored under
 * `<dataDir>/tls/acme/certs` (nothing is created or ordered here) and says which of the names
 * Berth orders at start have no valid certificate yet and how soon the first one expires.
 */
import type { BerthConfig } from '../config/schema.js';
import { readStoredPairs } from '../edge/tls/acme/account.js';
import { loadCertificate, nameCovers, type LoadedCertificate } from '../edge/tls/certificates.js';
import type { CheckResult } from './doctor.js';

/** Days left below which a certificate is a warning (renewal runs 30 days before expiry). */
const WARN_DAYS = 14;

export function checkAcmeCertificates(config: BerthConfig, now = new Date()): CheckResult {
  const name = 'certificate';
  const dashboard = config.publicUrl ? new URL(config.publicUrl).hostname.toLowerCase() : null;
  if (!dashboard) {
    return { name, status: 'fail', detail: 'BERTH_TLS=acme without BERTH_PUBLIC_URL', hint: 'set BERTH_PUBLIC_URL=https://<dashboard host>; that host is ordered at start' };
  }
  const wanted = [dashboard];
  if (config.acmeDnsProvider) {
    for (const d of [config.appsDomain, config.previewDomain]) if (d) wanted.push(`*.${d.replace(/:\d+$/, '')}`);
  }
  const certs: LoadedCertificate[] = [];
  const unusable: string[] = [];
  for (const pair of readStoredPairs(config.dataDir)) {
    try {
      certs.push(loadCertificate(pair.cert, pair.key, now));
    } catch (err) {
      unusable.push(`${pair.name} (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  const covered = (n: string): boolean => certs.some((c) => c.names.some((p) => p === n || (!n.startsWith('*.') && nameCovers(p, n))));
  const missing = wanted.filter((n) => !covered(n));
  const soonest = [...certs].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())[0];
  const days = soonest ? Math.floor((soonest.notAfter.getTime() - now.getTime()) / 86_400_000) : null;
  const detail = [
    `${certs.length} ACME certificate${certs.length === 1 ? '' : 's'} from ${config.acmeDirectoryUrl}`,
    soonest ? `first to expire: ${soonest.names.join(', ')} on ${soonest.notAfter.toISOString().slice(0, 10)} (${days} days)` : null,
    unusable.length > 0 ? `unusable: ${unusable.join('; ')}` : null,
  ].filter(Boolean).join('; ');
  if (missing.length > 0) {
    return { name, status: 'warn', detail: `${detail}; none yet for ${missing.join(', ')}`, hint: 'Berth orders them when it starts; if it is running, `berth status` shows why an order failed (DNS must point the names at this host, port 80 must be reachable for HTTP-01)' };
  }
  if (days !== null && days < WARN_DAYS) {
    return { name, status: 'warn', detail, hint: 'renewals are failing (they start 30 days before expiry): see `berth status` and the log for the reason' };
  }
  return { name, status: 'ok', detail };
}
