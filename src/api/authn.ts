import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { BerthError } from '../errors.js';
import type { AuthService, Principal, TokenScope } from '../services/auth.js';
import { bearerToken, tokenMatches } from './auth.js';
import type { ApiEnv } from './env.js';

/** Name of Berth's session cookie; the edge strips it before proxying anything upstream. */
export const SESSION_COOKIE = 'berth_session';
export const CSRF_HEADER = 'x-csrf-token';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates every API request except the routes in `open`: a bearer token (the local CLI
 * token or an API token) or the session cookie. Cookie requests that change state must echo the
 * session's CSRF token in `X-CSRF-Token`. Tokens without the `write` scope may only read.
 */
export function authenticate(auth: AuthService, open: ReadonlySet<string>, clientIp: (c: Parameters<MiddlewareHandler<ApiEnv>>[0]) => string): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    c.set('clientIp', clientIp(c));
    if (open.has(`${c.req.method} ${c.req.path}`)) return next();
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
  if (p.role !== 'admin' || !p.scopes.has('admin' as TokenScope)) {
    throw new BerthError('E_FORBIDDEN', 'only admins may do this');
  }
}
