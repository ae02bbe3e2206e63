import type { IncomingMessage } from 'node:http';
import type { BerthConfig } from '../config/schema.js';
import type { HostingInfo } from '../domain/workspace.js';
import { forwardedInfo, parseTrustedProxies } from '../edge/forwarded.js';

/**
 * Decides where the outside world reaches Berth for URLs handed to users and workloads:
 * BERTH_PUBLIC_URL when set, otherwise the request itself (X-Forwarded-* only from trusted proxies).
 */
export function createHostingResolver(config: BerthConfig): (req: IncomingMessage) => HostingInfo {
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
  return (req) => {
    const info = forwardedInfo(req, trusted);
    return { proto: info.proto, host: info.host, basePath: info.prefix };
  };
}
