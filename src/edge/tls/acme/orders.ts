/**
 * One ACME order, start to finish, through `acme-client`: account (made on first use with the
 * stored key), order, a challenge per authorization (HTTP-01 for exact hosts through the redirect
 * listener, DNS-01 for wildcards — and for exact hosts when there is no plain-HTTP listener —
 * through the configured DNS provider), finalize with a fresh P-256 key, download the chain.
 * Challenge answers are withdrawn whatever the outcome.
 *
 * BERTH_ACME_CA_FILE is trusted by acme-client's own HTTP client only (its private axios
 * instance): the CA's HTTPS, never the edge's upstreams or anything else in the process.
 */
import https from 'node:https';
import tls from 'node:tls';
import acme from 'acme-client';
import { BerthError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { AcmeStorage } from './account.js';
import { dnsChallengeName, type DnsProvider, type Http01Tokens } from './challenges.js';

export interface IssuerOptions {
  directoryUrl: string;
  email?: string | undefined;
  /** PEM root(s) trusted, besides the system's, for the CA's HTTPS. */
  caPem?: string | undefined;
  storage: AcmeStorage;
  http01: Http01Tokens;
  /** Whether a plain-HTTP listener answers HTTP-01 (BERTH_HTTP_PORT ≠ 0). */
  httpListener: boolean;
  dns: DnsProvider | null;
  /** Wait after publishing DNS-01 records, before the CA is asked to look. */
  dnsWaitMs: number;
  log: Logger;
}

/** An issued pair: the chain (leaf first) and its key, PEM. */
export interface IssuedPair {
  cert: string;
  key: string;
}

/** Turns acme-client's and axios' errors into one line a person can act on. */
export function describeAcmeError(err: unknown): string {
  const e = err as { message?: string; response?: { status?: number; data?: { detail?: string; type?: string } }; code?: string };
  const detail = e.response?.data?.detail;
  if (detail) return `${e.response?.data?.type ?? `HTTP ${e.response?.status}`}: ${detail}`;
  return e.message ?? String(err);
}

export class AcmeIssuer {
  private client: Promise<acme.Client> | null = null;

  constructor(private readonly opts: IssuerOptions) {
    if (opts.caPem) {
      // acme-client's axios instance is its own (require('acme-client').axios), not the global axios.
      acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...tls.rootCertificates, opts.caPem], keepAlive: true });
    }
  }

  /** The client with its account, made once (concurrent orders share it; a failure is retried by the next order). */
  private ready(): Promise<acme.Client> {
    this.client ??= this.register().catch((err: unknown) => {
      this.client = null;
      throw err;
    });
    return this.client;
  }

  private async register(): Promise<acme.Client> {
    // Short polls: an on-demand order holds a TLS handshake; the CA answers within seconds.
    const client = new acme.Client({ directoryUrl: this.opts.directoryUrl, accountKey: await this.opts.storage.accountKey(), backoffAttempts: 12, backoffMin: 500, backoffMax: 5000 });
    try {
      // newAccount with a known key returns that account (no state besides the key is kept).
      await client.createAccount({ termsOfServiceAgreed: true, ...(this.opts.email ? { contact: [`mailto:${this.opts.email}`] } : {}) });
    } catch (err) {
      // For an existing account acme-client follows up with an update, which a CA may refuse when
      // nothing changes ("use POST-as-GET"); the account URL is known by then, and that is enough.
      try {
        client.getAccountUrl();
      } catch {
        throw err;
      }
    }
    return client;
  }

  /** Orders one certificate for `names` (first = common name when short enough). Throws E_ACME saying why. */
  async issue(names: string[]): Promise<IssuedPair> {
    const { log } = this.opts;
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const client = await this.ready();
      const order = await client.createOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
      const authzs = await client.getAuthorizations(order);
      const pending: { challenge: acme.Authorization['challenges'][number]; id: string }[] = [];
      let published = false;
      for (const authz of authzs) {
        if (authz.status === 'valid') continue;
        const id = authz.wildcard ? `*.${authz.identifier.value}` : authz.identifier.value;
        const type = !authz.wildcard && this.opts.httpListener ? 'http-01' : 'dns-01';
        if (type === 'dns-01' && !this.opts.dns) {
          throw new BerthError('E_ACME', `${id} needs a DNS-01 challenge but no DNS provider is configured`, {
            hint: authz.wildcard ? 'set BERTH_ACME_DNS_PROVIDER (cloudflare or rfc2136) and its settings' : 'open the plain-HTTP listener (BERTH_HTTP_PORT, default 80) or set BERTH_ACME_DNS_PROVIDER',
          });
        }
        const challenge = authz.challenges.find((c) => c.type === type);
        if (!challenge) throw new BerthError('E_ACME', `the CA offers no ${type} challenge for ${id}`, { hint: 'use a CA that supports HTTP-01 and DNS-01 (Let\'s Encrypt does)' });
        const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
        if (type === 'http-01') {
          const token = (challenge as { token: string }).token;
          this.opts.http01.add(token, authz.identifier.value, keyAuthorization);
          cleanups.push(async () => this.opts.http01.remove(token));
        } else {
          const dns = this.opts.dns!;
          const handle = await dns.publish(dnsChallengeName(authz.identifier.value), keyAuthorization);
          cleanups.push(() => dns.remove(handle));
          published = true;
        }
        pending.push({ challenge, id });
      }
      if (published && this.opts.dnsWaitMs > 0) await new Promise((r) => setTimeout(r, this.opts.dnsWaitMs));
      for (const { challenge, id } of pending) {
        try {
          await client.completeChallenge(challenge);
          await client.waitForValidStatus(challenge);
        } catch (err) {
          throw new BerthError('E_ACME', `the CA could not validate ${id} (${challenge.type}): ${describeAcmeError(err)}`, {
            hint: challenge.type === 'http-01'
              ? `the CA must reach http://${id.replace(/^\*\./, '')}/.well-known/acme-challenge/ on port 80 of this host: check DNS and the firewall`
              : 'check the DNS provider settings and that its zone serves the name',
            cause: err,
          });
        }
      }
      const commonName = names[0]!.length <= 64 ? names[0]! : undefined;
      const [key, csr] = await acme.crypto.createCsr({ altNames: names, ...(commonName ? { commonName } : {}) }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const finalized = await client.finalizeOrder(order, csr);
      const cert = await client.getCertificate(finalized);
      log.info({ names }, `certificate issued for ${names.join(', ')}`);
      return { cert, key: key.toString() };
    } catch (err) {
      if (err instanceof BerthError) throw err;
      throw new BerthError('E_ACME', `ordering a certificate for ${names.join(', ')} failed: ${describeAcmeError(err)}`, {
        hint: `check BERTH_ACME_DIRECTORY_URL (${this.opts.directoryUrl}) is reachable and the CA's limits`,
        cause: err,
      });
    } finally {
      for (const c of cleanups) await c().catch((err: unknown) => log.warn({ err }, 'removing an ACME challenge answer failed'));
    }
  }
}
