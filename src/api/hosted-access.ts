import type { IncomingMessage } from 'node:http';
import type { Route } from '../domain/route.js';
import { BERTH_APP_SESSION_COOKIE } from '../edge/headers.js';
import type { HandoffStore } from '../auth/app-handoff.js';
import type { AuthService, Principal } from '../services/auth.js';
import { bearerToken } from '../auth/tokens.js';
import { cookieValue } from './upgrade-auth.js';

/**
 * What an apps-origin session is bound to: every path route of the apps origin. (Host keys are
 * `{port}--{id}`, which never starts with `@`.)
 */
export const APPS_ORIGIN_KEY = '@apps';

export interface HostedAccessDeps {
  auth: AuthService;
  handoffs: HandoffStore;
  /**
   * The origin (`proto://host[:port]`) a browser page must have to open a cookie-authenticated
   * WebSocket to `route`: the apps origin for path routes, the app's own host for host routes.
   */
  expectedOrigin: (req: IncomingMessage, route: Route) => string;
}

/**
 * The edge's access hooks for private hosted apps. Browsers authenticate with an app-origin
 * session obtained through the dashboard's one-time hand-off: bound to the apps origin for path
 * routes, to the app's own host for host routes. The dashboard's session cookie never counts here
 * (browsers send it to every port of the host, so counting it would let any same-site page in).
 * A Berth bearer token works on both (for scripts). The owner and admins are allowed, and any
 * logged-in user on routes marked `anyUser` (catalog apps); everyone else is refused.
 *
 * Cookie-authenticated WebSocket upgrades must come from the route's own origin: browsers send
 * cookies on cross-origin WebSocket handshakes (no CORS; SameSite only stops cross-site ones), so
 * without this check a page on another apps subdomain could read a private app's socket.
 */
export function createHostedAccess(deps: HostedAccessDeps) {
  const { auth, handoffs } = deps;
  const keyOf = (route: Route): string => (route.via === 'path' ? APPS_ORIGIN_KEY : hostKey(route));

  const principalOf = (req: IncomingMessage, route: Route): Principal | null => {
    const bearer = auth.tokenPrincipal(bearerToken(req.headers.authorization));
    if (bearer) return bearer;
    const userId = handoffs.userOf(cookieValue(req.headers.cookie, BERTH_APP_SESSION_COOKIE), keyOf(route));
    if (!userId) return null;
    if (req.headers.upgrade !== undefined && req.headers.origin !== deps.expectedOrigin(req, route)) return null;
    return auth.principalForUser(userId);
  };
  return {
    /** Who this request is on `route` (a bearer token, or an app session of the route's origin), or null. */
    principal: principalOf,
    authorize(req: IncomingMessage, route: Route): boolean {
      const p = principalOf(req, route);
      return p !== null && (p.role === 'admin' || route.access?.anyUser === true || p.userId === route.access?.ownerId);
    },
    redeemHandoff(ticket: string, route: Route | null): string | null {
      return route === null ? handoffs.redeem(ticket, APPS_ORIGIN_KEY) : route.via === 'host' ? handoffs.redeem(ticket, hostKey(route)) : null;
    },
  };
}

/** What an app session is bound to: the route's own subdomain (matched exactly by the edge). */
export function hostKey(route: Route): string {
  return `${route.hostPort}--${route.workloadId}`;
}
