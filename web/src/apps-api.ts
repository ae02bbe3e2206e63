/**
 * Catalog apps as the API presents them (src/api/routes/apps.ts), the streamed install, and the
 * URLs an app is opened at. Like api.ts, every URL is derived from the page's base.
 */
import { ApiError, apiUrl, request } from './api.js';
import { readNdjson } from './lib/ndjson.js';
import type { LiveList } from './live.js';

/** One entry of `GET api/catalog`. */
export interface CatalogApp {
  name: string;
  title: string;
  description: string;
  website: string | null;
  iconUrl: string | null;
  image: string;
  requires: string[];
  dependsOn: string[];
  embed: { subpath: boolean; stripPrefix: boolean };
}

/** `GET api/catalog`: the valid manifests, and one line of text per invalid one. */
export interface Catalog {
  apps: CatalogApp[];
  /** Absent from older daemons. */
  errors?: { text: string }[];
}

export type AppState = 'installing' | 'running' | 'failed';

/** One entry of `GET api/apps` (and the last line of a successful install). */
export interface InstalledApp {
  name: string;
  title: string;
  state: AppState;
  reason: string | null;
  /** Public URL recorded at install time (with a trailing slash); null when it cannot be served. */
  url: string | null;
  via: 'path' | 'host' | null;
  requires: string[];
  dependsOn: string[];
  createdAt: string;
  updatedAt: string;
}

/** Installed apps as the event stream carries them (`app` / `app-removed` with the name). */
export const INSTALLED_APPS: LiveList<InstalledApp> = { path: 'api/apps', field: 'apps', kind: 'app', key: 'name' };

/** Oldest install first, as `GET api/apps` lists them (events add in arrival order). */
export const byInstallTime = (a: InstalledApp, b: InstalledApp): number => a.createdAt.localeCompare(b.createdAt) || a.name.localeCompare(b.name);

export type InstallStep = 'pulling' | 'provisioning' | 'starting' | 'health' | 'healthy' | 'failed';

/** One progress line of `POST api/apps`. */
export interface InstallProgress {
  step: InstallStep;
  app: string;
  message: string;
}

const isProgress = (v: unknown): v is InstallProgress => typeof v === 'object' && v !== null && typeof (v as InstallProgress).step === 'string' && typeof (v as InstallProgress).message === 'string';
const isApp = (v: unknown): v is InstalledApp => typeof v === 'object' && v !== null && typeof (v as InstalledApp).name === 'string' && typeof (v as InstalledApp).state === 'string';

/**
 * Installs `name` (and its missing dependencies), calling `onProgress` for every streamed step.
 * Resolves to the installed app; throws ApiError for a refusal before the stream starts (an HTTP
 * error) and for the `{"error":…}` line a failed install ends with.
 */
export async function installApp(name: string, onProgress: (p: InstallProgress) => void): Promise<InstalledApp> {
  const res = await request('POST', 'api/apps', { name });
  if (!res.body) throw new ApiError(res.status, 'E_STREAM', 'the install answer had no body');
  // Filled by the line callback (an object, so the compiler does not narrow them to null).
  const out: { app: InstalledApp | null; failure: ApiError | null } = { app: null, failure: null };
  const onLine = (v: unknown): void => {
    const err = (v as { error?: { code?: unknown; message?: unknown; hint?: unknown } }).error;
    if (err && typeof err.message === 'string') {
      out.failure = new ApiError(res.status, typeof err.code === 'string' ? err.code : 'E_INSTALL', err.message, typeof err.hint === 'string' ? err.hint : undefined);
    } else if (isProgress(v)) onProgress(v);
    else if (isApp(v)) out.app = v;
  };
  try {
    await readNdjson(res.body, onLine);
  } catch (err) {
    // The install goes on in the daemon; only this view of it broke off.
    throw new ApiError(0, 'E_NETWORK', `lost the install progress of "${name}": ${(err as Error).message}`, 'the install continues in Berth; the list below shows where it stands');
  }
  if (out.failure) throw out.failure;
  if (!out.app) throw new ApiError(res.status, 'E_STREAM', `the install stream of "${name}" ended without a result`, 'reload the page to see where it stands');
  return out.app;
}

/**
 * Where the app opens: on the apps origin for path apps (`{apps origin}/embed/{name}/`, never
 * the dashboard's origin), its own host for the others; null when Berth cannot serve it now.
 */
export function openUrl(app: InstalledApp): string | null {
  if (app.url && app.via === 'path' && !app.url.endsWith('/')) return app.url + '/';
  return app.url;
}

/** The icon's URL: an https icon as given, a catalog file through the API below the base. */
export function iconSrc(app: CatalogApp): string | null {
  if (!app.iconUrl) return null;
  return app.iconUrl.startsWith('https://') ? app.iconUrl : apiUrl(`api/catalog/${encodeURIComponent(app.name)}/icon`);
}
