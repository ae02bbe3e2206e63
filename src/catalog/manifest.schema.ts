/**
 * The app manifest (`catalog/<name>/app.yaml`) as a zod schema, and the normalized type the rest
 * of Berth uses. Validation only; `load.ts` reads files and turns zod issues into `file:line:col`
 * errors, `template.ts` owns the `${…}` language used in env values, command and health checks.
 *
 * Example:
 * ```yaml
 * name: miniflux
 * title: Miniflux
 * description: Minimalist feed reader
 * image: docker.io/miniflux/miniflux:2.3.3
 * ports: { http: 8080 }            # `http` is the port the proxy serves; other names are extra ports
 * requires: [postgres]
 * env:
 *   DATABASE_URL: ${postgres.url}?sslmode=disable
 *   BASE_URL: ${app.url}/
 *   ADMIN_PASSWORD: ${secret:admin_password}
 * healthcheck: { http: "${app.basePath}/healthcheck", interval: 5s, timeout: 3s, retries: 60 }
 * volumes: { data: /var/lib/miniflux }   # named, persistent; $BERTH_VOLUME_DATA names the path
 * restart: always                  # no | on-failure | always (default always)
 * embed: { subpath: true, stripPrefix: false }
 * ```
 */
import { z } from 'zod';
import { APP_NAME_MAX, APP_NAME_RE, INFRA_KINDS, type InfraKind } from '../domain/app.js';
import { parseImageRef, quoteValue } from '../domain/image-ref.js';
import type { RestartPolicy } from '../domain/workspace.js';
import type { AppManifest } from './manifest.js';
import { scanTemplate } from './template.js';

const NAME_MESSAGE = 'must be lowercase letters, digits and single dashes, starting with a letter';
const appName = z.string().max(APP_NAME_MAX, `must be at most ${APP_NAME_MAX} characters`).regex(APP_NAME_RE, NAME_MESSAGE);

/** A string that may contain `${…}` templates; unknown variables are reported with the string's position. */
const templated = z.string().superRefine((s, ctx) => {
  for (const p of scanTemplate(s).problems) ctx.addIssue({ code: 'custom', message: p.message, params: { needle: p.raw } });
});

const FULLY_QUALIFIED = 'must be a fully qualified image like docker.io/library/nginx:1.27';
/**
 * An OCI reference (distribution grammar: never `-…`, no whitespace), fully qualified so podman
 * never has to guess a registry for a short name (it refuses to, non-interactively).
 */
const imageRef = z.string().superRefine((s, ctx) => {
  const ref = parseImageRef(s);
  if ('problem' in ref) ctx.addIssue({ code: 'custom', message: `${quoteValue(s)} ${ref.problem}; ${FULLY_QUALIFIED.replace('must be', 'give')}` });
  else if (ref.domain === null) ctx.addIssue({ code: 'custom', message: FULLY_QUALIFIED });
});

const port = z.number().int().min(1).max(65535);

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** `10s`, `500ms`, `2m`, `1h`, or a number of seconds → milliseconds, within [minMs, maxMs]. */
function duration(minMs: number, maxMs: number) {
  const message = 'must be a duration like 500ms, 10s, 2m, 1h (or a number of seconds)';
  return z
    .union([z.number(), z.string()], { error: message })
    .transform((v, ctx) => {
      let ms: number;
      if (typeof v === 'number') ms = v * 1000;
      else {
        const m = DURATION_RE.exec(v.trim());
        if (!m) {
          ctx.issues.push({ code: 'custom', message, input: v });
          return z.NEVER;
        }
        ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
      }
      if (!(ms >= minMs && ms <= maxMs)) {
        ctx.issues.push({ code: 'custom', message: `must be between ${fmtMs(minMs)} and ${fmtMs(maxMs)}`, input: v });
        return z.NEVER;
      }
      return Math.round(ms);
    });
}

const fmtMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

const MEMORY_RE = /^(\d+(?:\.\d+)?)\s*(k|m|g|ki|mi|gi|kb|mb|gb)?$/i;
const MEMORY_MB: Record<string, number> = { k: 1 / 1024, kb: 1 / 1024, ki: 1 / 1024, m: 1, mb: 1, mi: 1, g: 1024, gb: 1024, gi: 1024 };

/** `512m`, `1g`, `1.5Gi`, or a number of megabytes → whole megabytes (at least 6, the engines' minimum). */
const memory = z.union([z.number(), z.string()], { error: 'must be a size like 512m or 2g (or a number of megabytes)' }).transform((v, ctx) => {
  let mb: number;
  if (typeof v === 'number') mb = v;
  else {
    const m = MEMORY_RE.exec(v.trim());
    if (!m) {
      ctx.issues.push({ code: 'custom', message: 'must be a size like 512m or 2g (or a number of megabytes)', input: v });
      return z.NEVER;
    }
    mb = Number(m[1]) * MEMORY_MB[(m[2] ?? 'm').toLowerCase()]!;
  }
  if (!(mb >= 6)) {
    ctx.issues.push({ code: 'custom', message: 'must be at least 6m', input: v });
    return z.NEVER;
  }
  return Math.floor(mb);
});

const HEALTH_HTTP_RE = /^(?:\$\{app\.basePath\})?\//;

const healthcheckSchema = z
  .strictObject({
    http: templated.regex(HEALTH_HTTP_RE, 'must be a path starting with "/" (or "${app.basePath}/")').optional(),
    command: z.array(templated).min(1, 'must name a program').optional(),
    interval: duration(100, 3_600_000).optional(),
    timeout: duration(100, 600_000).optional(),
    retries: z.number().int().min(1).max(10_000).optional(),
    startPeriod: duration(0, 3_600_000).optional(),
  })
  .superRefine((h, ctx) => {
    if ((h.http === undefined) === (h.command === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of `http: /path` or `command: [argv…]`' });
    }
  });

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envName = z
  .string()
  .regex(ENV_NAME_RE, 'env names are letters, digits and "_", not starting with a digit')
  .refine((k) => !k.startsWith('BERTH_'), 'BERTH_* variables are set by Berth');
// YAML reads `RUN_MIGRATIONS: 1` as a number and `X: true` as a boolean; env is text either way.
const envValue = z.union([templated, z.number().transform(String), z.boolean().transform(String)], {
  error: 'env values must be strings, numbers or booleans',
});

const VOLUME_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The env variable that tells an app where volume `name` is: `BERTH_VOLUME_<NAME>` (`-` → `_`). */
export function volumeEnvName(name: string): string {
  return `BERTH_VOLUME_${name.toUpperCase().replace(/-/g, '_')}`;
}

/** Default restart policy of apps (see AppManifest.restart). */
export const DEFAULT_APP_RESTART: RestartPolicy = 'always';
const containerPath = z
  .string()
  .regex(/^\/[^:,]*$/, 'must be an absolute container path (no ":" or ",")')
  .refine((p) => p !== '/' && !p.split('/').includes('..'), 'must not be "/" or contain ".."');

/** The manifest as written, before normalization. Strict: an unknown (misspelt) field is an error. */
export const manifestInputSchema = z
  .strictObject({
    name: appName,
    title: z.string().min(1).max(80),
    description: z.string().min(1).max(2000),
    icon: z
      .string()
      .regex(/^(?:https:\/\/\S+|[A-Za-z0-9][A-Za-z0-9._-]*)$/, 'must be a file next to app.yaml (e.g. icon.svg) or an https URL')
      .optional(),
    website: z.url({ protocol: /^https?$/ }).optional(),
    image: imageRef,
    command: z.array(templated).min(1).optional(),
    ports: z
      .record(z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'port names are lowercase letters, digits and "-"'), port)
      .refine((p) => p.http !== undefined, 'needs an `http` port: the one the proxy serves'),
    env: z.record(envName, envValue).optional(),
    requires: z.array(z.enum(INFRA_KINDS as [InfraKind, ...InfraKind[]])).optional(),
    dependsOn: z.array(appName).optional(),
    healthcheck: healthcheckSchema,
    volumes: z.record(z.string().regex(VOLUME_NAME_RE, 'volume names are lowercase letters, digits, "_" and "-"'), containerPath).optional(),
    resources: z.strictObject({ cpus: z.number().positive().max(1024).optional(), memory: memory.optional() }).optional(),
    restart: z.enum(['no', 'on-failure', 'always'], { error: 'must be one of no, on-failure, always' }).optional(),
    embed: z.strictObject({ subpath: z.boolean().optional(), stripPrefix: z.boolean().optional() }).optional(),
  })
  .superRefine((m, ctx) => {
    duplicates(m.requires ?? [], ['requires'], ctx);
    duplicates(m.dependsOn ?? [], ['dependsOn'], ctx);
    (m.dependsOn ?? []).forEach((d, i) => {
      if (d === m.name) ctx.addIssue({ code: 'custom', message: 'an app cannot depend on itself', path: ['dependsOn', i] });
    });
    duplicates(Object.values(m.ports), ['ports'], ctx, Object.keys(m.ports));
    duplicates(Object.values(m.volumes ?? {}), ['volumes'], ctx, Object.keys(m.volumes ?? {}));
    // `a-b` and `a_b` would both be BERTH_VOLUME_A_B.
    duplicates(Object.keys(m.volumes ?? {}).map(volumeEnvName), ['volumes'], ctx, Object.keys(m.volumes ?? {}));

    // Every `${postgres.*}` / `${redis.*}` needs the service in `requires`, or nothing would provide it.
    const requires = new Set(m.requires ?? []);
    const stripPrefix = m.embed?.stripPrefix ?? true;
    for (const [path, value] of templatedFields(m)) {
      for (const part of scanTemplate(value).parts) {
        if (part.kind === 'var' && part.requires && !requires.has(part.requires)) {
          ctx.addIssue({
            code: 'custom',
            message: `uses ${part.raw} but "requires" does not list ${part.requires}`,
            path,
            params: { needle: part.raw },
          });
        }
        if (path[0] === 'healthcheck' && path[1] === 'http' && part.kind === 'var' && part.name === 'app.basePath' && stripPrefix) {
          ctx.addIssue({
            code: 'custom',
            message: 'uses ${app.basePath} but embed.stripPrefix is true: the app sees paths without the prefix',
            path,
            params: { needle: part.raw },
          });
        }
      }
    }
  });

function duplicates<T>(values: T[], at: (string | number)[], ctx: z.RefinementCtx, keys?: string[]): void {
  const seen = new Map<T, number>();
  values.forEach((v, i) => {
    const first = seen.get(v);
    if (first === undefined) seen.set(v, i);
    else {
      const label = keys ? `"${keys[first]}"` : `item ${first + 1}`;
      ctx.addIssue({ code: 'custom', message: `duplicates ${label} (${String(v)})`, path: [...at, keys ? keys[i]! : i] });
    }
  });
}

type ManifestInput = z.output<typeof manifestInputSchema>;

/** Every string that holds templates, with its path in the manifest. */
export function templatedFields(m: Pick<ManifestInput, 'env' | 'command' | 'healthcheck'>): [(string | number)[], string][] {
  const out: [(string | number)[], string][] = [];
  for (const [k, v] of Object.entries(m.env ?? {})) out.push([['env', k], v]);
  (m.command ?? []).forEach((v, i) => out.push([['command', i], v]));
  if (m.healthcheck.http !== undefined) out.push([['healthcheck', 'http'], m.healthcheck.http]);
  (m.healthcheck.command ?? []).forEach((v, i) => out.push([['healthcheck', 'command', i], v]));
  return out;
}

/** Fills defaults and normalizes units; `source` is the file the manifest came from. */
export function normalizeManifest(m: ManifestInput, source: string): AppManifest {
  const h = m.healthcheck;
  const timing = {
    intervalMs: h.interval ?? 5_000,
    timeoutMs: h.timeout ?? 3_000,
    retries: h.retries ?? 60,
    startPeriodMs: h.startPeriod ?? 0,
  };
  return {
    name: m.name,
    title: m.title,
    description: m.description.trim(),
    ...(m.icon !== undefined ? { icon: m.icon } : {}),
    ...(m.website !== undefined ? { website: m.website } : {}),
    image: m.image,
    ...(m.command ? { command: m.command } : {}),
    ports: m.ports as AppManifest['ports'],
    env: m.env ?? {},
    requires: m.requires ?? [],
    dependsOn: m.dependsOn ?? [],
    healthcheck: h.http !== undefined ? { kind: 'http', path: h.http, ...timing } : { kind: 'command', argv: h.command ?? [], ...timing },
    volumes: m.volumes ?? {},
    restart: m.restart ?? DEFAULT_APP_RESTART,
    ...(m.resources ? { resources: { cpus: m.resources.cpus, memoryMb: m.resources.memory } } : {}),
    embed: { subpath: m.embed?.subpath ?? true, stripPrefix: m.embed?.stripPrefix ?? true },
    source,
  };
}

/** Field names of the strict objects, for "did you mean" hints on unknown fields. */
export const KNOWN_FIELDS: Readonly<Record<string, readonly string[]>> = {
  '': Object.keys(manifestInputSchema.shape),
  healthcheck: Object.keys(healthcheckSchema.shape),
  resources: ['cpus', 'memory'],
  embed: ['subpath', 'stripPrefix'],
};
