/**
 * The two origins of a Berth installation. The dashboard origin serves the dashboard and the API
 * and never any workload content; the apps origin serves path-mode workload routes
 * (`/hosted/{id}/{port}/`, `/embed/{app}/`) and never the API. Browsers isolate origins (scheme,
 * host, port), so a hosted page cannot read the dashboard's DOM, call the API with the admin's
 * session and CSRF token, or open the exec shell, whatever script it runs.
 *
 * Zero setup by default: the apps origin is the dashboard's host name on a second port
 * (BERTH_APPS_PORT, the main port + 1). Behind an outer proxy, BERTH_PUBLIC_URL and BERTH_APPS_URL
 * fix both public origins; requests that reach the main listener with the apps URL's host are
 * then served as the apps origin too, so one upstream in the outer proxy is enough when the two
 * origins differ by host name.
 */
import type { IncomingMessage } from 'node:http';
import type { HostingInfo } from '../domain/workspace.js';
import { forwardedInfo, type TrustedProxies } from './forwarded.js';
import { hostnameOf } from './match.js';
import { trustedForwardedInfo } from './own-host.js';

/** Where the outside world reaches the dashboard and the apps, for one request. */
export interface Origins {
  /**
   * A CSP source that matches the dashboard's origin as a browser may know it: the fixed public
   * URL's origin, or (derived) this host name on any port — the apps listener cannot tell which
   * port an outer proxy serves the dashboard on, but it is always the same host name.
   */
  dashboardSource(req: IncomingMessage): string;
  /** The apps origin's hosting info for this request (injected into workloads, used for links). */
  appsHosting(req: IncomingMessage): HostingInfo;
  /** `appsHosting` as a URL: `proto://host[:port][basePath]`, no trailing slash. */
  appsUrl(req: IncomingMessage): string;
  /**
   * True when `req` was addressed to the apps origin: it came in on the apps listener, or on the
   * main listener with the configured apps URL's host.
   */
  isAppsRequest(req: IncomingMessage): boolean;
  /** Records the ports actually bound (port 0 in tests binds ephemeral ones); only the apps port enters the URLs built here. */
  setPorts(mainPort: number, appsPort: number): void;
}

export interface OriginsOptions {
  trusted: TrustedProxies;
  /** BERTH_PUBLIC_URL: the dashboard's fixed public URL. */
  publicUrl?: string | undefined;
  /** BERTH_APPS_URL: the apps origin's fixed public URL. */
  appsUrl?: string | undefined;
}

/** A symbol set on requests accepted by the apps listener (cheaper than a WeakSet lookup). */
export const VIA_APPS_LISTENER = Symbol('berth.appsListener');
type Marked = IncomingMessage & { [VIA_APPS_LISTENER]?: true };

/** Marks a request as accepted by the apps listener. */
export function markAppsRequest(req: IncomingMessage): void {
  (req as Marked)[VIA_APPS_LISTENER] = true;
}

function fixedHosting(url: string): HostingInfo {
  const u = new URL(url);
  return { proto: u.protocol === 'https:' ? 'https' : 'http', host: u.host, basePath: u.pathname.replace(/\/+$/, '') };
}

/** `host[:port]` with its port replaced (IPv6 brackets kept). */
export function withPort(host: string, port: number): string {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  return `${name}:${port}`;
}

const urlOf = (h: HostingInfo): string => `${h.proto}://${h.host}${h.basePath}`;

/** Creates the resolver; call `setPorts` once both listeners are bound. */
export function createOrigins(opts: OriginsOptions): Origins {
  let appsPort = 0;
  const fixedDashboard = opts.publicUrl ? fixedHosting(opts.publicUrl) : null;
  const fixedApps = opts.appsUrl ? fixedHosting(opts.appsUrl) : null;
  const appsHostname = fixedApps ? hostnameOf(fixedApps.host) : null;
  const dashboardHostname = fixedDashboard ? hostnameOf(fixedDashboard.host) : null;
  // With both public URLs fixed and different host names, the Host header tells the origins apart
  // (one outer-proxy upstream for both); otherwise only the listener does.
  const appsByHost = fixedDashboard && appsHostname !== null && appsHostname !== dashboardHostname ? appsHostname : null;

  const viaListener = (req: IncomingMessage): boolean => (req as Marked)[VIA_APPS_LISTENER] === true;
  const isAppsRequest = (req: IncomingMessage): boolean => {
    if (viaListener(req)) return true;
    if (appsByHost === null) return false;
    return hostnameOf(forwardedInfo(req, opts.trusted).host) === appsByHost;
  };

  // URLs built here are stored (a workspace's links, its sign-in redirect) and shown to others, so
  // they take the request's Host only when it names this Berth (see own-host.ts).
  const appsHosting = (req: IncomingMessage): HostingInfo => {
    if (fixedApps) return fixedApps;
    const seen = trustedForwardedInfo(req, opts.trusted);
    // Reached on the apps listener: the browser's own view of it. From the dashboard: same scheme
    // and host name, the apps port (no outer prefix: the apps port is reached directly).
    if (viaListener(req)) return { proto: seen.proto, host: seen.host, basePath: seen.prefix };
    return { proto: seen.proto, host: withPort(seen.host, appsPort), basePath: '' };
  };

  return {
    dashboardSource(req) {
      if (fixedDashboard) return `${fixedDashboard.proto}://${fixedDashboard.host}`;
      const seen = forwardedInfo(req, opts.trusted);
      return `${seen.proto}://${withPort(seen.host, 0).replace(/:0$/, ':*')}`;
    },
    appsHosting,
    appsUrl: (req) => urlOf(appsHosting(req)),
    isAppsRequest,
    setPorts(_main, apps) {
      appsPort = apps;
    },
  };
}
