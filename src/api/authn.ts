import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { BerthError } from '../errors.js';
import { isAdmin, type AuthService, type Principal } from '../services/auth.js';
import { bearerToken, tokenMatches } from '../auth/tokens.js';
import type { ApiEnv } from './env.js';

/** Name of Berth's session cookie; the edge strips it before proxying anything upstream. */
export const SESSION_COOKIE = 'berth_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

type Ctx = Parameters<MiddlewareHandler<ApiEnv>>[0];

/**
 * Why a browser request did not come from the dashboard's own origin, or null when it did (or
 * when it is no browser request: scripts send neither header). Browsers send `Sec-Fetch-Site` on
 * every request and `Origin` on every POST and cross-origin fetch; the apps origin is another
 * origin of the same site, so SameSite=Lax alone would let its pages' requests carry the cookie.
 */
export function crossOriginReason(c: Ctx, dashboardOrigin: string): string | null {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${site}`;
  const origin = c.req.header('origin');
  if (origin !== undefined && origin !== dashboardOrigin) return `Origin ${origin} is not the dashboard's`;
  return null;
}

/**
 * Authenticates every API request except the routes in `open`: a bearer token (the local CLI
 * token or an API token) or the session cookie. Cookie requests must come from the dashboard's
 * origin (`dashboardOrigin`; checked with Sec-Fetch-Site and Origin), and those that change state
 * must also echo the session's CSRF token in `X-CSRF-Token`. Open routes that change state (login,
 * setup) get the same origin check. Tokens without the `write` scope may only read.
 */
export function authenticate(
  auth: AuthService,
  open: ReadonlySet<string>,
  clientIp: (c: Ctx) => string,
  dashboardOrigin: (c: Ctx) => string,
): MiddlewareHandler<ApiEnv> {
  const refuseCrossOrigin = (c: Ctx): void => {
    const why = crossOriginReason(c, dashboardOrigin(c));
    if (why) {
      throw new BerthError('E_CROSS_ORIGIN', `cookie-authenticated requests must come from the dashboard's origin (${why})`, {
        hint: 'use the dashboard itself, or send Authorization: Bearer <token> from scripts',
      });
    }
  };
  return async (c, next) => {
    c.set('clientIp', clientIp(c));
    if (open.has(`${c.req.method} ${c.req.path}`)) {
      if (!SAFE_METHODS.has(c.req.method)) refuseCrossOrigin(c);
      return next();
    }
    const authz = c.req.header('authorization');
    let principal: Principal | null = null;
    if (authz) {
      principal = auth.tokenPrincipal(bearerToken(authz));
      if (!principal) {
        throw new BerthError('E_UNAUTHORIZED', 'invalid API token', { hint: 'use the token from $BERTH_DATA_DIR/token or create one with `berth token create`' });
      }
    } else {
      principal = auth.sessionPrincipal(getCookie(c, SESSION_COOKIE));
      if (!principal) {
        throw new BerthError('E_UNAUTHORIZED', 'log in first (session missing or expired)', {
          hint: 'POST /api/auth/login, or send Authorization: Bearer <token>',
        });
      }
      refuseCrossOrigin(c);
      if (!SAFE_METHODS.has(c.req.method) && !tokenMatches(c.req.header(CSRF_HEADER), principal.csrfToken ?? '')) {
        throw new BerthError('E_CSRF', 'missing or wrong X-CSRF-Token for a cookie-authenticated change', {
          hint: 'send the csrfToken from /api/auth/login or /api/auth/me in X-CSRF-Token',
        });
      }
    }
    if (!SAFE_METHODS.has(c.req.method) && !principal.scopes.has('write') && !principal.scopes.has('admin')) {
      throw new BerthError('E_FORBIDDEN', 'this token may only read', { hint: 'create a token with the write scope' });
    }
    c.set('principal', principal);
    return next();
  };
}

/** Requires an admin (with the `admin` scope when it comes through an API token). */
export function requireAdmin(p: Principal): void {
  if (!isAdmin(p)) {
    throw new BerthError('E_FORBIDDEN', 'only admins may do this');
  }
}
