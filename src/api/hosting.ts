import type { IncomingMessage } from 'node:http';
import type { BerthConfig } from '../config/schema.js';
import type { HostingInfo } from '../domain/workspace.js';
import { forwardedInfo, parseTrustedProxies } from '../edge/forwarded.js';
import { splitHost, trustedForwardedInfo } from '../edge/own-host.js';
import type { Logger } from '../log.js';

/** Rejected host names warned about so far; bounded so a flood of names cannot grow it. */
const MAX_WARNED = 100;

function fixedHosting(publicUrl: string): HostingInfo {
  const u = new URL(publicUrl);
  return { proto: u.protocol === 'https:' ? 'https' : 'http', host: u.host, basePath: u.pathname.replace(/\/+$/, '') };
}

/**
 * Where this request reached Berth, as far as the client says: BERTH_PUBLIC_URL when set,
 * otherwise the request itself (X-Forwarded-* only from trusted proxies). For what concerns the
 * same client only — cookie attributes, redirects answered to it, and comparisons with what its
 * browser sent (Origin checks). URLs that are stored or shown to other people come from
 * createLinkHostingResolver instead.
 */
export function createHostingResolver(config: BerthConfig): (req: IncomingMessage) => HostingInfo {
  if (config.publicUrl) {
    const fixed = fixedHosting(config.publicUrl);
    return () => fixed;
  }
  const trusted = parseTrustedProxies(config.trustedProxies);
  return (req) => {
    const info = forwardedInfo(req, trusted);
    return { proto: info.proto, host: info.host, basePath: info.prefix };
  };
}

/**
 * Where Berth is reached, for URLs that are stored and shown to other people: a workspace keeps
 * the dashboard URL of its creator's request, and sends visitors of its private routes there to
 * sign in (an admin among them). So these come from trusted configuration only (see
 * edge/own-host.ts for why and the exact rules): BERTH_PUBLIC_URL when set; otherwise
 * X-Forwarded-* from trusted proxies; otherwise the request's Host only when it names an address
 * this listener answers on, and the address the connection arrived at when it does not (logged
 * once per name, with the fix).
 */
export function createLinkHostingResolver(config: BerthConfig, log?: Logger): (req: IncomingMessage) => HostingInfo {
  if (config.publicUrl) {
    const fixed = fixedHosting(config.publicUrl);
    return () => fixed;
  }
  const trusted = parseTrustedProxies(config.trustedProxies);
  const warned = new Set<string>();
  return (req) => {
    const info = trustedForwardedInfo(req, trusted);
    const host = info.host;
    if (info.hostTrusted) return { proto: info.proto, host, basePath: info.prefix };
    const name = splitHost(req.headers.host ?? '')?.[0] ?? '(none)';
    if (log && !warned.has(name) && warned.size < MAX_WARNED) {
      warned.add(name);
      log.warn(
        { requestHost: (req.headers.host ?? '').slice(0, 100), using: host },
        `a request named this Berth ${JSON.stringify(name.slice(0, 100))}, which is not an address it answers on; links use ${host} instead (set BERTH_PUBLIC_URL to the address users reach Berth at)`,
      );
    }
    return { proto: info.proto, host, basePath: info.prefix };
  };
}
