import type { IncomingMessage } from 'node:http';
import type { HostingInfo } from '../domain/workspace.js';
import type { AuthService, Principal } from '../services/auth.js';

/** Reads one cookie from a raw Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
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
