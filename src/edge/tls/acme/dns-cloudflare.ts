/**
 * DNS-01 through Cloudflare's API (v4 wire format): the zone is found by walking up the record's
 * name (`GET /zones?name=…`), the TXT record is created with `POST /zones/{zone}/dns_records` and
 * deleted with `DELETE /zones/{zone}/dns_records/{id}`. The token needs Zone:Read and DNS:Edit.
 */
import { BerthError } from '../../../errors.js';
import type { DnsProvider } from './challenges.js';

export interface CloudflareOptions {
  token: string;
  /** `https://api.cloudflare.com/client/v4` (tests: a local server speaking the same format). */
  apiUrl: string;
  timeoutMs?: number;
}

interface CfEnvelope<T> {
  success: boolean;
  errors?: { code?: number; message?: string }[];
  result?: T;
}

export class CloudflareDns implements DnsProvider {
  readonly name = 'cloudflare';
  private readonly zones = new Map<string, string>();

  constructor(private readonly opts: CloudflareOptions) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.opts.apiUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.opts.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 15_000),
      });
    } catch (err) {
      throw new BerthError('E_DNS_PROVIDER', `Cloudflare API ${method} ${path}: ${(err as Error).message}`, { hint: 'check that this host reaches BERTH_ACME_CLOUDFLARE_API_URL', cause: err });
    }
    let env: CfEnvelope<T>;
    try {
      env = (await res.json()) as CfEnvelope<T>;
    } catch {
      throw new BerthError('E_DNS_PROVIDER', `Cloudflare API ${method} ${path}: HTTP ${res.status} without a JSON answer`, { hint: 'check BERTH_ACME_CLOUDFLARE_API_URL' });
    }
    if (!res.ok || !env.success || env.result === undefined) {
      const why = (env.errors ?? []).map((e) => `${e.code ?? ''} ${e.message ?? ''}`.trim()).join('; ') || `HTTP ${res.status}`;
      throw new BerthError('E_DNS_PROVIDER', `Cloudflare API ${method} ${path}: ${why}`, {
        hint: res.status === 401 || res.status === 403 ? 'BERTH_ACME_CLOUDFLARE_TOKEN needs Zone:Read and DNS:Edit on the zone' : 'see the Cloudflare error above',
      });
    }
    return env.result;
  }

  /** The id of the zone holding `fqdn`: the longest of its parent names Cloudflare knows. */
  async zoneOf(fqdn: string): Promise<string> {
    const labels = fqdn.split('.');
    for (let i = 1; i <= labels.length - 2; i++) {
      const candidate = labels.slice(i).join('.');
      const cached = this.zones.get(candidate);
      if (cached) return cached;
      const found = await this.call<{ id: string; name: string }[]>('GET', `/zones?name=${encodeURIComponent(candidate)}`);
      const zone = found.find((z) => z.name.toLowerCase() === candidate);
      if (zone) {
        this.zones.set(candidate, zone.id);
        return zone.id;
      }
    }
    throw new BerthError('E_DNS_PROVIDER', `no Cloudflare zone holds ${fqdn}`, { hint: 'add the domain to the Cloudflare account of BERTH_ACME_CLOUDFLARE_TOKEN, or give the token access to its zone' });
  }

  async publish(fqdn: string, value: string): Promise<string> {
    const zone = await this.zoneOf(fqdn);
    const rec = await this.call<{ id: string }>('POST', `/zones/${encodeURIComponent(zone)}/dns_records`, { type: 'TXT', name: fqdn, content: value, ttl: 60 });
    return `${zone}/${rec.id}`;
  }

  async remove(handle: string): Promise<void> {
    const [zone, id] = handle.split('/');
    if (!zone || !id) return;
    await this.call('DELETE', `/zones/${encodeURIComponent(zone)}/dns_records/${encodeURIComponent(id)}`);
  }
}
