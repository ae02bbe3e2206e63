/**
 * The edge's answers about access and origins, apart from proxying: the sign-in redirect of a
 * private route, the one-time hand-off page that sets an app-origin session, and the decision
 * which origin (dashboard or apps) may answer a match. Pure functions of the request and the
 * hooks given; no I/O besides writing the response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../domain/route.js';
import type { MatchResult } from './match.js';
import type { Origins } from './origins.js';
import { BERTH_APP_SESSION_COOKIE } from './headers.js';
import { sendError, type EdgeError } from './pages.js';

/** Path on app hosts and on the apps origin where a one-time hand-off ticket is redeemed (never forwarded upstream). */
export const HANDOFF_PATH = '/__berth/handoff?';

/** `/hosted…` or `/embed…` in any spelling (`//hosted`, `/embed?x`): a target meant for a path route. */
const PATH_ROUTE_TARGET = /^\/+(?:hosted|embed)(?:[/?]|$)/;
const VISIBLE_ASCII = /^[\x21-\x7e]*$/;

/** Which origin may answer a match: see `originSide`. */
export type OriginSide = 'apps' | 'redirect' | 'any';

export interface AccessPagesOptions {
  /** Without it (unit harnesses) one origin serves everything and path routes sign in at the login page. */
  origins: Origins | undefined;
  /** Trades a hand-off ticket for an app-origin session id (see EdgeOptions.redeemHandoff). */
  redeemHandoff: ((ticket: string, route: Route | null) => string | null) | undefined;
}

export function createAccessPages(opts: AccessPagesOptions) {
  const { origins } = opts;

  /**
   * A refused private route: browsers are sent through the dashboard's hand-off (which logs them
   * in first if needed) back to this URL with an app-origin session; others get 401. Without
   * separate origins (unit harnesses), path routes send the browser to the login page.
   */
  function refuse(req: IncomingMessage, res: ServerResponse, route: Route): void {
    const access = route.access!;
    const wantsPage = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (wantsPage) {
      const here = hereUrl(req, route, access.dashboardUrl);
      const location =
        route.via === 'host' || origins
          ? `${access.dashboardUrl}/api/auth/handoff?to=${encodeURIComponent(here)}`
          : `${access.dashboardUrl}/#/login?next=${encodeURIComponent(here)}`;
      res.writeHead(302, { location, 'cache-control': 'no-store', 'content-length': 0 });
      res.end();
      return;
    }
    sendError(res, { status: 401, code: 'E_UNAUTHORIZED', message: `The ${route.kind} "${route.workloadName}" is private: log in to Berth first.` }, req.headers.accept);
  }

  /**
   * The full URL a browser asked for on a route, as Berth serves it (the apps origin for path
   * routes, the app's host on the dashboard's scheme for host routes): where sign-in and wake-up
   * send it back to.
   */
  function hereUrl(req: IncomingMessage, route: Route, dashboardUrl: string): string {
    const proto = route.via === 'host' && dashboardUrl.startsWith('https:') ? 'https' : 'http';
    return route.via === 'host'
      ? `${proto}://${req.headers.host ?? ''}${req.url ?? '/'}`
      : origins
        ? `${origins.appsUrl(req)}${req.url ?? '/'}`
        : (req.url ?? '/');
  }

  /**
   * `/__berth/handoff?ticket=…&next=/…` on an app host (`route`) or on the apps origin (`route`
   * null): trade the ticket for a session cookie of that origin.
   */
  function handoff(req: IncomingMessage, res: ServerResponse, route: Route | null, path: string): void {
    const q = new URLSearchParams(path.slice(path.indexOf('?') + 1));
    const next = q.get('next') ?? '/';
    const cookie = opts.redeemHandoff?.(q.get('ticket') ?? '', route) ?? null;
    if (!cookie) {
      sendError(res, { status: 401, code: 'E_UNAUTHORIZED', message: 'This sign-in link is invalid, used or expired; open the app from Berth again.' }, req.headers.accept);
      return;
    }
    const https = route ? route.access?.dashboardUrl.startsWith('https:') : origins?.appsHosting(req).proto === 'https';
    const secure = https ? '; Secure' : '';
    // Only same-host relative paths: the hand-off must not become an open redirect. Only visible
    // ASCII too: `next` arrives %-decoded, and CR/LF or a char past Latin-1 would make writeHead throw.
    const safeNext = next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') && VISIBLE_ASCII.test(next) ? next : '/';
    res.writeHead(302, {
      location: safeNext,
      'set-cookie': `${BERTH_APP_SESSION_COOKIE}=${cookie}; Path=/; HttpOnly; SameSite=Lax${secure}`,
      'cache-control': 'no-store',
      'content-length': 0,
    });
    res.end();
  }

  /**
   * Which origin may answer this match: path routes (and their redirects, 503s and 404s) belong
   * to the apps origin, so the dashboard origin redirects them there ('redirect'); on the apps
   * origin ('apps') everything that is not a workload route is refused. Host routes (subdomain
   * apps, previews) are origins of their own and answer on either listener ('any'). Without
   * origins, 'any'.
   */
  function originSide(req: IncomingMessage, m: MatchResult, url: string): OriginSide {
    if (!origins) return 'any';
    if (origins.isAppsRequest(req)) return 'apps';
    const pathRoute =
      m.type === 'route' || m.type === 'unavailable'
        ? m.route.via === 'path'
        : m.type === 'redirect' || (m.type === 'not-found' && PATH_ROUTE_TARGET.test(url));
    return pathRoute ? 'redirect' : 'any';
  }

  /** 308 to the same target (`url`, the request's) on the apps origin: workload content is never served on the dashboard's origin. */
  function toAppsOrigin(req: IncomingMessage, res: ServerResponse, url: string): void {
    res.writeHead(308, { location: origins!.appsUrl(req) + url, 'content-length': 0, 'cache-control': 'no-store' });
    res.end();
  }

  /** For upgrades to a path route on the dashboard origin: WebSocket clients follow no redirects. */
  function wrongOrigin(req: IncomingMessage): EdgeError {
    return {
      status: 404,
      code: 'E_WRONG_ORIGIN',
      message: `Hosted apps are served on the apps origin, not the dashboard's: connect to ${origins!.appsUrl(req)} instead.`,
    };
  }

  return { refuse, handoff, originSide, toAppsOrigin, wrongOrigin, hereUrl };
}
