/**
 * The certificates the access point serves, chosen per TLS handshake by SNI. Sources (files on
 * disk, later ACME orders) `put` a PEM pair under a source name; a new pair replaces the old one
 * of that source only after it has been parsed and checked (certificate and key match, not
 * expired), so a bad file or a failed order never takes HTTPS down: the old certificate keeps
 * serving and `status()` says what went wrong.
 *
 * Open connections keep the context they shook hands with; only new handshakes see a change (no
 * connection is dropped by a reload).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import tls, { type SecureContext } from 'node:tls';
import { BerthError } from '../../errors.js';

/** A checked certificate ready to serve. */
export interface LoadedCertificate {
  /** DNS names it covers (subjectAltName), lower-case; `*.example.com` for a wildcard. */
  names: string[];
  notBefore: Date;
  notAfter: Date;
  issuer: string;
  serial: string;
  fingerprint256: string;
  context: SecureContext;
}

/** What `berth status` and the dashboard show per source. */
export interface CertificateStatus {
  source: string;
  names: string[];
  notAfter: string | null;
  issuer: string | null;
  /** Why the last update of this source was refused (the previous certificate, if any, still serves). */
  error: string | null;
  updatedAt: string | null;
}

/**
 * Parses and checks a PEM certificate (leaf first, then its chain) and key. Refuses a key that
 * does not belong to the certificate, a certificate not yet or no longer valid at `now`, and one
 * without DNS names.
 */
export function loadCertificate(certPem: string, keyPem: string, now = new Date()): LoadedCertificate {
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (err) {
    throw new BerthError('E_CONFIG', `the certificate is not a PEM X.509 certificate: ${(err as Error).message}`, { hint: 'give the PEM file that starts with -----BEGIN CERTIFICATE----- (leaf first, then the chain)', cause: err });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new BerthError('E_CONFIG', `the key is not a PEM private key: ${(err as Error).message}`, { hint: 'give the unencrypted PEM key (-----BEGIN PRIVATE KEY----- or -----BEGIN EC/RSA PRIVATE KEY-----)', cause: err });
  }
  if (!leaf.checkPrivateKey(key)) {
    throw new BerthError('E_CONFIG', 'the key does not belong to the certificate', { hint: 'the certificate and key files must be one pair (compare `openssl x509 -pubkey` with `openssl pkey -pubout`)' });
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new BerthError('E_CONFIG', `the certificate expired on ${notAfter.toISOString()}`, { hint: 'renew it and replace the file (Berth reloads it without a restart)' });
  }
  if (notBefore.getTime() > now.getTime() + 5 * 60_000) {
    throw new BerthError('E_CONFIG', `the certificate is not valid before ${notBefore.toISOString()}`, { hint: "check this machine's clock" });
  }
  const names = dnsNames(leaf);
  if (names.length === 0) throw new BerthError('E_CONFIG', 'the certificate names no DNS host (subjectAltName)', { hint: 'issue it for the host names Berth serves' });
  const context = tls.createSecureContext({ cert: certPem, key: keyPem });
  return { names, notBefore, notAfter, issuer: leaf.issuer.replace(/\n/g, ', '), serial: leaf.serialNumber, fingerprint256: leaf.fingerprint256, context };
}

/** DNS names of subjectAltName (CN only when there is no SAN, as old certificates have). */
function dnsNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    return san
      .split(/,\s*/)
      .filter((e) => e.startsWith('DNS:'))
      .map((e) => e.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** Whether `pattern` (a name or `*.suffix`) covers `host` (one label for a wildcard, as TLS does). */
export function nameCovers(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!pattern.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === pattern.slice(2);
}

interface Entry {
  cert: LoadedCertificate | null;
  error: string | null;
  updatedAt: Date | null;
}

/** Certificates by source, selected per handshake. */
export class CertificateStore {
  private readonly entries = new Map<string, Entry>();
  /** Exact names first, then wildcards; rebuilt on every change (handshakes only read it). */
  private exact = new Map<string, LoadedCertificate>();
  private wildcards: [string, LoadedCertificate][] = [];
  private fallback: LoadedCertificate | null = null;

  /** Serves `cert` for `source`, replacing what that source served. */
  put(source: string, cert: LoadedCertificate): void {
    this.entries.set(source, { cert, error: null, updatedAt: new Date() });
    this.rebuild();
  }

  /** Records why an update of `source` was refused; what it served before keeps serving. */
  fail(source: string, error: string): void {
    const e = this.entries.get(source);
    this.entries.set(source, { cert: e?.cert ?? null, error, updatedAt: new Date() });
  }

  /** Stops serving `source`. */
  remove(source: string): void {
    this.entries.delete(source);
    this.rebuild();
  }

  /** The certificate for a handshake naming `servername` (none: the first one loaded, e.g. for an IP). */
  select(servername: string | undefined): LoadedCertificate | null {
    if (servername) {
      const host = servername.toLowerCase();
      const hit = this.exact.get(host);
      if (hit) return hit;
      for (const [pattern, cert] of this.wildcards) if (nameCovers(pattern, host)) return cert;
    }
    return this.fallback;
  }

  /** Whether some certificate covers `host` exactly or by wildcard. */
  covers(host: string): boolean {
    const h = host.toLowerCase();
    return this.exact.has(h) || this.wildcards.some(([p]) => nameCovers(p, h));
  }

  /** For `tls.createServer({ SNICallback })`. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const cert = this.select(servername);
    if (cert) cb(null, cert.context);
    else cb(new Error('no certificate loaded'));
  };

  status(): CertificateStatus[] {
    return [...this.entries].map(([source, e]) => ({
      source,
      names: e.cert?.names ?? [],
      notAfter: e.cert ? e.cert.notAfter.toISOString() : null,
      issuer: e.cert?.issuer ?? null,
      error: e.error,
      updatedAt: e.updatedAt ? e.updatedAt.toISOString() : null,
    }));
  }

  private rebuild(): void {
    const exact = new Map<string, LoadedCertificate>();
    const wildcards: [string, LoadedCertificate][] = [];
    let fallback: LoadedCertificate | null = null;
    for (const { cert } of this.entries.values()) {
      if (!cert) continue;
      fallback ??= cert;
      for (const n of cert.names) {
        if (n.startsWith('*.')) wildcards.push([n, cert]);
        // The newer-expiring certificate wins a name two sources cover.
        else if (!exact.has(n) || exact.get(n)!.notAfter < cert.notAfter) exact.set(n, cert);
      }
    }
    this.exact = exact;
    this.wildcards = wildcards;
    this.fallback = fallback;
  }
}
