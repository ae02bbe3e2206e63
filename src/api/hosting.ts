import type { IncomingMessage } from 'node:http';
import type { BerthConfig } from '../config/schema.js';
import type { HostingInfo } from '../domain/workspace.js';
import { parseTrustedProxies } from '../edge/forwarded.js';
import { splitHost, trustedForwardedInfo } from '../edge/own-host.js';
import type { Logger } from '../log.js';

/** Rejected host names warned about so far; bounded so a flood of names cannot grow it. */
const MAX_WARNED = 100;

/**
 * Decides where the outside world reaches Berth for URLs handed to users and workloads — and
 * stored: a workspace keeps the URLs of its creator's request, shows them to admins as links and
 * sends visitors of its private routes to them to sign in. So they come from trusted
 * configuration only (see edge/own-host.ts for why and the exact rules): BERTH_PUBLIC_URL when
 * set; otherwise X-Forwarded-* from trusted proxies; otherwise the request's Host only when it
 * names an address this listener answers on, and the address the connection arrived at when it
 * does not (logged once per name, with the fix).
 */
export function createHostingResolver(config: BerthConfig, log?: Logger): (req: IncomingMessage) => HostingInfo {
  if (config.publicUrl) {
    const u = new URL(config.publicUrl);
    const fixed: HostingInfo = {
      proto: u.protocol === 'https:' ? 'https' : 'http',
      host: u.host,
      basePath: u.pathname.replace(/\/+$/, ''),
    };
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
        `a request named this Berth ${JSON.stringify(name.slice(0, 100))}, which is not an address it answers on; URLs use ${host} instead (set BERTH_PUBLIC_URL to the address users reach Berth at)`,
      );
    }
    return { proto: info.proto, host, basePath: info.prefix };
  };
}
