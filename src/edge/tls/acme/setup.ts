/**
 * BERTH_TLS=acme from the configuration: which names are fixed (the dashboard host of
 * BERTH_PUBLIC_URL, the apps origin's host of BERTH_APPS_URL, and with a DNS provider the
 * wildcards of BERTH_APPS_DOMAIN and BERTH_PREVIEW_DOMAIN), the DNS provider, the issuer and the
 * manager. Settings that cannot work are refused at start with E_CONFIG and what to set.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { BerthConfig } from '../../../config/schema.js';
import { BerthError } from '../../../errors.js';
import type { Logger } from '../../../log.js';
import type { CertificateStore } from '../certificates.js';
import { AcmeStorage, isOrderName } from './account.js';
import { Http01Tokens, type DnsProvider } from './challenges.js';
import { CloudflareDns } from './dns-cloudflare.js';
import { Rfc2136Dns } from './dns-rfc2136.js';
import { AcmeManager } from './manager.js';
import { AcmeIssuer } from './orders.js';

export interface AcmeTls {
  sniCallback: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
  /** The redirect listener's HTTP-01 hook. */
  challenge: Http01Tokens['respond'];
  /** Loads stored certificates and starts ordering (once the listeners are up, so HTTP-01 can be answered). */
  start(): void;
  close(): void;
}

function hostOf(url: string | undefined): string | null {
  if (!url) return null;
  return new URL(url).hostname.toLowerCase();
}

function bareDomain(domain: string | undefined): string | null {
  return domain ? domain.replace(/:\d+$/, '').toLowerCase() : null;
}

function dnsProvider(config: BerthConfig): DnsProvider | null {
  if (config.acmeDnsProvider === 'cloudflare') {
    if (!config.acmeCloudflareToken) {
      throw new BerthError('E_CONFIG', 'BERTH_ACME_DNS_PROVIDER=cloudflare needs BERTH_ACME_CLOUDFLARE_TOKEN', { hint: 'create an API token with Zone:Read and DNS:Edit for the zone (Cloudflare dashboard → My Profile → API Tokens)' });
    }
    return new CloudflareDns({ token: config.acmeCloudflareToken, apiUrl: config.acmeCloudflareApiUrl });
  }
  if (config.acmeDnsProvider === 'rfc2136') {
    if (!config.acmeRfc2136Server) {
      throw new BerthError('E_CONFIG', 'BERTH_ACME_DNS_PROVIDER=rfc2136 needs BERTH_ACME_RFC2136_SERVER', { hint: 'set it to the primary name server that accepts updates (host[:port]), and BERTH_ACME_RFC2136_KEY_FILE to its TSIG key' });
    }
    return new Rfc2136Dns({ server: config.acmeRfc2136Server, keyFile: config.acmeRfc2136KeyFile, nsupdateBin: config.acmeNsupdateBin });
  }
  return null;
}

/** Builds BERTH_TLS=acme; `isRouted` asks the edge's current route table whether it serves a host. */
export function setupAcme(config: BerthConfig, store: CertificateStore, log: Logger, isRouted: (host: string) => boolean): AcmeTls {
  const dashboard = hostOf(config.publicUrl);
  if (!dashboard || isIP(dashboard) || !isOrderName(dashboard)) {
    throw new BerthError('E_CONFIG', 'BERTH_TLS=acme needs BERTH_PUBLIC_URL with the DNS name of the dashboard', {
      hint: 'e.g. BERTH_PUBLIC_URL=https://berth.example.com (its DNS must point at this host; an IP address cannot get a certificate)',
    });
  }
  let caPem: string | undefined;
  if (config.acmeCaFile) {
    try {
      caPem = readFileSync(config.acmeCaFile, 'utf8');
    } catch (err) {
      throw new BerthError('E_CONFIG', `BERTH_ACME_CA_FILE: cannot read ${config.acmeCaFile}: ${(err as Error).message}`, { hint: 'point it at the PEM root of the ACME server (only needed for a private CA such as Pebble)', cause: err });
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new BerthError('E_CONFIG', `BERTH_ACME_CA_FILE ${config.acmeCaFile} holds no PEM certificate`, { hint: 'give the CA certificate in PEM form' });
    }
  }
  const dns = dnsProvider(config);
  if (config.httpPort === 0 && !dns) {
    // Nothing could be validated: HTTP-01 needs the plain-HTTP listener, DNS-01 a provider.
    throw new BerthError('E_CONFIG', 'BERTH_TLS=acme with BERTH_HTTP_PORT=0 and no BERTH_ACME_DNS_PROVIDER cannot validate any certificate', {
      hint: 'leave BERTH_HTTP_PORT unset (80) so the CA can check HTTP-01 challenges, or set BERTH_ACME_DNS_PROVIDER for DNS-01',
    });
  }
  const fixed = new Set<string>([dashboard]);
  const apps = hostOf(config.appsUrl);
  if (apps && !isIP(apps) && isOrderName(apps)) fixed.add(apps);
  if (dns) {
    for (const d of [bareDomain(config.appsDomain), bareDomain(config.previewDomain)]) if (d) fixed.add(`*.${d}`);
  }
  const storage = new AcmeStorage(config.dataDir);
  const http01 = new Http01Tokens();
  const httpListener = config.httpPort !== 0;
  const issuer = new AcmeIssuer({
    directoryUrl: config.acmeDirectoryUrl,
    email: config.acmeEmail,
    caPem,
    storage,
    http01,
    httpListener,
    dns,
    dnsWaitMs: config.acmeDnsWaitSeconds * 1000,
    log,
  });
  const manager = new AcmeManager({
    store,
    storage,
    issuer,
    log,
    fixedNames: [...fixed],
    isRouted,
    renewDays: config.acmeRenewDays,
    renewFraction: config.acmeRenewFraction,
    checkMs: config.acmeCheckSeconds * 1000,
    onDemandPerHour: config.acmeOnDemandPerHour,
  });
  log.info({ directory: config.acmeDirectoryUrl, names: [...fixed], dns: dns?.name ?? null }, `ACME: certificates from ${config.acmeDirectoryUrl} for ${[...fixed].join(', ')} and routed hosts on demand`);
  return {
    sniCallback: manager.sniCallback,
    challenge: http01.respond,
    start: () => manager.start(),
    close: () => manager.close(),
  };
}
