import type { IncomingMessage } from 'node:http';
import type { Route } from '../domain/route.js';
import { BERTH_APP_SESSION_COOKIE } from '../edge/headers.js';
import type { HandoffStore } from '../auth/app-handoff.js';
import type { AuthService, Principal } from '../services/auth.js';
import { bearerToken } from './auth.js';
import { SESSION_COOKIE } from './authn.js';
import { cookieValue } from './upgrade-auth.js';

/**
 * The edge's access hooks for private hosted apps. Path routes share the dashboard's origin, so
 * the dashboard session cookie counts there; host routes (subdomain mode) only accept the
 * host-bound app session obtained through the one-time hand-off. A Berth bearer token works on
 * both (for scripts). The owner and admins are allowed, and any logged-in user on routes marked
 * `anyUser` (catalog apps); everyone else is refused.
 */
export function createHostedAccess(auth: AuthService, handoffs: HandoffStore) {
  const principalOf = (req: IncomingMessage, route: Route): Principal | null => {
    const bearer = auth.tokenPrincipal(bearerToken(req.headers.authorization));
    if (bearer) return bearer;
    if (route.via === 'path') return auth.sessionPrincipal(cookieValue(req.headers.cookie, SESSION_COOKIE));
    const userId = handoffs.userOf(cookieValue(req.headers.cookie, BERTH_APP_SESSION_COOKIE), hostKey(route));
    return userId ? auth.principalForUser(userId) : null;
  };
  return {
    authorize(req: IncomingMessage, route: Route): boolean {
      const p = principalOf(req, route);
      return p !== null && (p.role === 'admin' || route.access?.anyUser === true || p.userId === route.access?.ownerId);
    },
    redeemHandoff(ticket: string, route: Route): string | null {
      return route.via === 'host' ? handoffs.redeem(ticket, hostKey(route)) : null;
    },
  };
}

/** What an app session is bound to: the route's own subdomain (matched exactly by the edge). */
export function hostKey(route: Route): string {
  return `${route.hostPort}--${route.workloadId}`;
}
