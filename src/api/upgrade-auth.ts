import type { IncomingMessage } from 'node:http';
import type { HostingInfo } from '../domain/workspace.js';
import type { AuthService, Principal } from '../services/auth.js';

/**
 * Reads one cookie from a raw Cookie header (the first pair with that name). A value that is not
 * valid %-encoding is returned as sent: it is client input, so it must not throw, and no Berth
 * credential looks like that, so it simply matches nothing.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeOrRaw(part.slice(eq + 1).trim());
  }
  return undefined;
}

function decodeOrRaw(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The session principal of a WebSocket upgrade. Browsers send cookies on cross-site WebSocket
 * handshakes (no SameSite protection, no CORS), so a cookie counts only when the Origin is this
 * Berth's own origin: that is the CSRF check for upgrades.
 */
export function sessionPrincipalForUpgrade(
  auth: AuthService,
  req: IncomingMessage,
  hostingFor: (req: IncomingMessage) => HostingInfo,
  cookieName: string,
): Principal | null {
  const origin = req.headers.origin;
  if (!origin) return null;
  const hosting = hostingFor(req);
  if (origin !== `${hosting.proto}://${hosting.host}`) return null;
  return auth.sessionPrincipal(cookieValue(req.headers.cookie, cookieName));
}
