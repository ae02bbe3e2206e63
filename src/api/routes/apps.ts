/**
 * Routes for the app catalog (`/api/catalog`) and installed apps (`/api/apps`). Installs and
 * uninstalls are admin-only and audited; any logged-in user may read, except settings' values and
 * logs (admins only: both may hold secrets). `POST /api/apps` streams
 * NDJSON progress lines and ends with the app (or an `{"error":…}` line); `DELETE /api/apps/:name`
 * answers what it removed and what it kept (`?purge=1` removes volumes, database, Redis keys too).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppManifest } from '../../catalog/manifest.js';
import { formatManifestError } from '../../catalog/load.js';
import type { HostingInfo } from '../../domain/workspace.js';
import { BerthError, isBerthError } from '../../errors.js';
import type { AppService, InstallProgress } from '../../services/apps.js';
import { isAdmin, type AuthService, type Principal } from '../../services/auth.js';
import type { InstalledApp } from '../../store/apps-repo.js';
import { requireAdmin } from '../authn.js';
import type { ApiEnv } from '../env.js';
import { readJson } from './workspaces.js';

/** Body of `POST /api/apps`: the catalog name and optional env overrides for the app. */
export const appInstallBody = z
  .object({
    name: z.string().min(1).max(40),
    settings: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'setting names are env names: letters, digits and _')
          .refine((k) => !k.startsWith('BERTH_'), 'BERTH_* variables are set by Berth'),
        z.string().max(65536),
      )
      .optional(),
  })
  .strict();

const ICON_TYPES: Record<string, string> = {
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.gif': 'image/gif',
};

/** The API's view of a catalog entry. */
export function presentManifest(m: AppManifest, basePath: string) {
  return {
    name: m.name,
    title: m.title,
    description: m.description,
    website: m.website ?? null,
    iconUrl: m.icon ? (m.icon.startsWith('https://') ? m.icon : `${basePath}/api/catalog/${m.name}/icon`) : null,
    image: m.image,
    requires: m.requires,
    dependsOn: m.dependsOn,
    embed: m.embed,
  };
}

/**
 * An app's settings as `viewer` may see them. Settings are what the admin typed at install time —
 * often an API key or a password — so only admins (with the admin scope) read the values; everyone
 * else gets the names with `null` values, so a dashboard can still say which settings are set.
 */
export function presentSettings(settings: Record<string, string>, viewer: Pick<Principal, 'role' | 'scopes'>) {
  if (isAdmin(viewer)) return { settings, settingsRedacted: false };
  return { settings: Object.fromEntries(Object.keys(settings).map((k) => [k, null])) as Record<string, null>, settingsRedacted: true };
}

/**
 * The API's view of an installed app (`GET /api/apps`, and the `app` events of `/api/events`) for
 * `viewer`: `settings` carry values for admins only, `settingsRedacted` says whether they were
 * withheld (see presentSettings). `manifest`: its catalog entry, for the title and what it needs
 * (absent once it left the catalog).
 */
export function presentApp(svc: Pick<AppService, 'location'>, a: InstalledApp, manifest: AppManifest | undefined, viewer: Pick<Principal, 'role' | 'scopes'>) {
  const loc = svc.location(a);
  return {
    name: a.name,
    title: manifest?.title ?? a.name,
    state: a.state,
    reason: a.reason,
    url: loc ? `${loc.url}/` : null,
    via: loc?.via ?? null,
    ...presentSettings(a.settings, viewer),
    ports: a.ports,
    volumes: a.volumes,
    restart: a.restartPolicy,
    restartCount: a.restartCount,
    exitCode: a.exitCode,
    requires: manifest?.requires ?? [],
    dependsOn: manifest?.dependsOn ?? [],
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

/** Routes under /api (mounted at `/api`): `/catalog…` and `/apps…`. */
export function appRoutes(
  svc: AppService,
  auth: AuthService,
  hostingFor: (req: IncomingMessage) => HostingInfo,
  /** Where installed apps are served (the apps origin): their URLs and `${app.*}` templates. */
  appsHostingFor: (req: IncomingMessage) => HostingInfo,
) {
  const app = new Hono<ApiEnv>();

  const present = (a: InstalledApp, manifest: AppManifest | undefined, viewer: Principal) => presentApp(svc, a, manifest, viewer);

  app.get('/catalog', async (c) => {
    const { apps, errors } = await svc.catalog();
    const basePath = hostingFor(c.env.incoming).basePath;
    return c.json({
      apps: [...apps.values()].sort((a, b) => a.name.localeCompare(b.name)).map((m) => presentManifest(m, basePath)),
      errors: errors.map((e) => ({ ...e, text: formatManifestError(e) })),
    });
  });

  app.get('/catalog/:name/icon', async (c) => {
    const m = (await svc.catalog()).apps.get(c.req.param('name'));
    if (!m?.icon) throw new BerthError('E_NOT_FOUND', `no icon for app "${c.req.param('name')}"`);
    if (m.icon.startsWith('https://')) return c.redirect(m.icon, 302);
    const type = ICON_TYPES[path.extname(m.icon).toLowerCase()];
    if (!type) throw new BerthError('E_NOT_FOUND', `icon ${m.icon} has an unknown type`);
    const data = await readFile(path.join(path.dirname(m.source), m.icon));
    return new Response(new Uint8Array(data), {
      headers: {
        'content-type': type,
        'cache-control': 'private, max-age=3600',
        'x-content-type-options': 'nosniff',
        // An SVG opened directly must not run scripts on Berth's origin.
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      },
    });
  });

  app.get('/apps', async (c) => {
    const { apps } = await svc.catalog();
    return c.json({ apps: svc.list().map((a) => present(a, apps.get(a.name), c.get('principal'))) });
  });

  app.get('/apps/:name', async (c) => {
    const a = svc.get(c.req.param('name'));
    return c.json(present(a, (await svc.catalog()).apps.get(a.name), c.get('principal')));
  });

  app.post('/apps', async (c) => {
    const p = c.get('principal');
    requireAdmin(p);
    const body = await readJson(c.req.raw, appInstallBody);
    const hosting = appsHostingFor(c.env.incoming);
    // Refusals that need nothing started (unknown app, cycle, missing dependency, no domain,
    // shared service not configured) are plain HTTP errors, before the stream begins.
    await svc.plan(body.name, hosting);
    const ip = c.get('clientIp');
    const lines = new Readable({ read() {} });
    const write = (v: unknown): void => void lines.push(JSON.stringify(v) + '\n');
    svc
      .install(body.name, body.settings ?? {}, hosting, (e: InstallProgress) => write(e))
      .then(async (installed) => {
        auth.audit(p, 'app.install', installed.name, ip, { settings: Object.keys(installed.settings) });
        write(present(installed, (await svc.catalog()).apps.get(installed.name), p));
      })
      .catch((err: unknown) => {
        auth.audit(p, 'app.install.failed', body.name, ip, { error: err instanceof Error ? err.message : String(err) });
        const e = isBerthError(err) ? err : new BerthError('E_INTERNAL', 'internal error; see the daemon log');
        write({ error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } });
      })
      .finally(() => lines.push(null));
    return new Response(Readable.toWeb(lines) as ReadableStream, {
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
    });
  });

  app.delete('/apps/:name', async (c) => {
    const p = c.get('principal');
    requireAdmin(p);
    const name = c.req.param('name');
    const purge = ['1', 'true'].includes(c.req.query('purge') ?? '');
    const report = await svc.uninstall(name, { purge });
    auth.audit(p, 'app.uninstall', name, c.get('clientIp'), { purge, removed: report.removed });
    return c.json(report);
  });

  app.get('/apps/:name/logs', async (c) => {
    // Admins only: apps print their configuration (settings, database URLs) when they start.
    requireAdmin(c.get('principal'));
    const follow = ['1', 'true'].includes(c.req.query('follow') ?? '');
    const tailRaw = c.req.query('tail');
    const tail = tailRaw === undefined ? undefined : Number(tailRaw);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw new BerthError('E_BAD_REQUEST', 'tail must be a non-negative integer');
    const stream = await svc.logs(c.req.param('name'), { follow, tail });
    c.env.outgoing.once('close', () => stream.destroy());
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
    });
  });

  return app;
}
