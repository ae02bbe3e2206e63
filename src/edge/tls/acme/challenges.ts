/**
 * The answers Berth gives while an order is being validated. HTTP-01: the redirect listener's
 * `challenge` hook looks tokens up here (only for the host they were made for, and only while
 * their order runs). DNS-01: a provider publishes `_acme-challenge.{name}` TXT records.
 */
import type { ServerResponse } from 'node:http';

/** Publishes and removes the TXT record of a DNS-01 challenge. */
export interface DnsProvider {
  readonly name: string;
  /** Publishes `value` as a TXT record at `fqdn` (`_acme-challenge.example.com`, no trailing dot); returns a handle for `remove`. */
  publish(fqdn: string, value: string): Promise<string>;
  /** Removes what `publish` made (best effort: a leftover TXT record does no harm). */
  remove(handle: string): Promise<void>;
}

/** The DNS-01 record name of an identifier (`*.example.com` and `example.com` share one). */
export function dnsChallengeName(identifier: string): string {
  return `_acme-challenge.${identifier.replace(/^\*\./, '')}`;
}

/** Tokens of running HTTP-01 validations. */
export class Http01Tokens {
  private readonly tokens = new Map<string, { host: string; keyAuthorization: string }>();

  add(token: string, host: string, keyAuthorization: string): void {
    this.tokens.set(token, { host: host.toLowerCase(), keyAuthorization });
  }

  remove(token: string): void {
    this.tokens.delete(token);
  }

  /** For `createRedirectServer({ challenge })`: answers a known token for its own host, else false (→ 404). */
  readonly respond = (token: string, host: string, res: ServerResponse): boolean => {
    const t = this.tokens.get(token);
    if (!t || t.host !== host.toLowerCase()) return false;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(t.keyAuthorization), 'cache-control': 'no-store' });
    res.end(t.keyAuthorization);
    return true;
  };

  get size(): number {
    return this.tokens.size;
  }
}
