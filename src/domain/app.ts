/**
 * Pure app types and rules shared by the catalog, the shared-infrastructure provisioners and the
 * app service. No I/O here.
 */
import { BerthError } from '../errors.js';
import type { HostingInfo } from './workspace.js';

/** Shared services an app can `require`; one instance of each per host. */
export type InfraKind = 'postgres' | 'redis';
export const INFRA_KINDS: readonly InfraKind[] = ['postgres', 'redis'];

/**
 * App names: lowercase letters, digits and single dashes, starting with a letter, at most 40
 * characters. No `--` and no leading digit, so an app subdomain (`{app}.{appsDomain}`) can never
 * collide with a workspace one (`{port}--{id}.{appsDomain}`).
 */
export const APP_NAME_RE = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const APP_NAME_MAX = 40;

/** Returns an error message, or null when `name` is a valid app name. */
export function checkAppName(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'name is required';
  if (name.length > APP_NAME_MAX) return `name must be at most ${APP_NAME_MAX} characters`;
  if (!APP_NAME_RE.test(name)) {
    return 'name must be lowercase letters, digits and single dashes, starting with a letter and not ending with a dash';
  }
  return null;
}

/** What an app gets for `requires: [postgres]`: its own database and role. */
export interface PostgresCredentials {
  /** `postgres://user:password@host:port/database` (user and password URL-encoded). */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** What an app gets for `requires: [redis]`: its own logical database on the shared server. */
export interface RedisBinding {
  /** `redis://[:password@]host:port/db`. */
  url: string;
  host: string;
  port: number;
  db: number;
}

/** Where an installed app is reached from the outside. */
export interface AppLocation {
  /** Public URL without a trailing slash: `https://host/prefix/embed/gitea` or `https://gitea.apps.example.com`. */
  url: string;
  /** Public path prefix without a trailing slash (`/prefix/embed/gitea`), '' when served at a host root. */
  basePath: string;
  /** `scheme://host[:port]` of `url` (for apps that want an origin for CSRF/allowed hosts). */
  origin: string;
  via: 'path' | 'host';
}

/**
 * Where an app lives: under `/embed/{app}/` of the access point when it supports a sub-path,
 * otherwise on `{app}.{appsDomain}` (same scheme as the access point). An app that needs a
 * host of its own while no apps domain is configured is refused with E_APP_NEEDS_DOMAIN.
 */
export function appLocation(
  name: string,
  embed: { subpath: boolean },
  hosting: HostingInfo,
  appsDomain?: string | undefined,
): AppLocation {
  if (embed.subpath) {
    const basePath = `${hosting.basePath}/embed/${name}`;
    const origin = `${hosting.proto}://${hosting.host}`;
    return { url: origin + basePath, basePath, origin, via: 'path' };
  }
  if (!appsDomain) {
    throw new BerthError('E_APP_NEEDS_DOMAIN', `app "${name}" cannot be served under a sub-path and no apps domain is set`, {
      hint: 'set BERTH_APPS_DOMAIN (a wildcard DNS name pointing at Berth) so the app gets a subdomain of its own',
    });
  }
  const origin = `${hosting.proto}://${name}.${appsDomain}`;
  return { url: origin, basePath: '', origin, via: 'host' };
}
