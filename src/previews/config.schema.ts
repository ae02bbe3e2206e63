import path from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { IMAGE_REF_HINT, imageRefIssue } from '../domain/image-ref.js';
import { BerthError } from '../errors.js';
import { parseDuration } from '../domain/duration.js';

/**
 * `berth.preview.yaml`: what a repository declares about its preview (services, routes, database,
 * time to live). Parsed with `yaml` so every problem points at a line and column of the file —
 * the message is shown on the pull request, where "invalid input" would help nobody.
 *
 * ```yaml
 * services:
 *   - name: web
 *     build: { context: ., containerfile: Containerfile }
 *     port: 3000
 *     env: { NODE_ENV: production }
 *     healthcheck: { http: /healthz, interval: 2s, timeout: 2s, retries: 30 }
 *   - name: api
 *     image: localhost/api:dev
 *     command: [node, server.js]
 *     port: 4000
 * routes:
 *   /api: api          # path prefix → service; `/` → the first service unless given
 * database: host       # host (shared PostgreSQL) | container (a PostgreSQL of its own) | none
 * ttl: 7d
 * ```
 */

export const PREVIEW_CONFIG_FILE = 'berth.preview.yaml';
/** Larger files are refused before parsing: a preview config is a few dozen lines. */
const MAX_BYTES = 256 * 1024;

export type DatabaseMode = 'host' | 'container' | 'none';

export type Healthcheck = ({ kind: 'http'; path: string } | { kind: 'command'; command: string[] }) & {
  intervalMs: number;
  timeoutMs: number;
  retries: number;
};

export interface PreviewService {
  name: string;
  /** Build from the checkout; `containerfile` null = the builder's default lookup. Paths are relative to the repo root. */
  build: { context: string; containerfile: string | null } | null;
  image: string | null;
  /** argv; null = the image's default (a service without build or image must give one). */
  command: string[] | null;
  /** Port the service listens on inside its workload; null for services that are not routed. */
  port: number | null;
  env: Record<string, string>;
  healthcheck: Healthcheck | null;
}

export interface PreviewConfig {
  services: PreviewService[];
  /** Path prefix → service, longest prefix first; always contains `/`. */
  routes: { path: string; service: string }[];
  database: DatabaseMode;
  /** Age after which the reaper destroys the preview; null = only when the PR closes. */
  ttlMs: number | null;
}

export interface PreviewConfigProblem {
  line: number;
  col: number;
  /** Dotted path into the document (`services.0.port`), '' for the whole file. */
  path: string;
  message: string;
}

export type PreviewConfigResult =
  | { ok: true; config: PreviewConfig }
  | { ok: false; problems: PreviewConfigProblem[]; /** One `file:line:col: path: message` line per problem. */ message: string };

export { parseDuration };

/** A bare number of seconds → milliseconds; null when it rounds to 0 ms (like `0s`) or is not a safe integer. */
function secondsToMs(seconds: number): number | null {
  const ms = Math.round(seconds * 1000);
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

const DURATION_HINT = 'must be a duration like 30s, 5m, 72h or 7d (a bare number means seconds)';
const duration = z.union([z.string(), z.number()], { error: DURATION_HINT }).transform((v, ctx) => {
  const ms = typeof v === 'number' ? secondsToMs(v) : parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: DURATION_HINT });
    return z.NEVER;
  }
  return ms;
});

const argv = z
  .array(z.string().min(1).refine((a) => !a.includes('\0'), 'must not contain a NUL character'), { error: 'must be a list of arguments like [node, server.js] (no shell strings)' })
  .min(1);

/** An OCI image reference (distribution grammar): never `-…`, no whitespace, lower-case repository. */
const imageRef = z.string().superRefine((s, ctx) => {
  const issue = imageRefIssue(s);
  if (issue) ctx.addIssue({ code: 'custom', message: `${issue}; ${IMAGE_REF_HINT}` });
});

/** Relative to the repository root and staying inside it (a PR must not point the build at the host). */
const repoPath = z
  .string()
  .min(1)
  .refine((p) => !p.includes('\0') && !path.posix.isAbsolute(p) && !path.posix.normalize(p).split('/').includes('..'), {
    message: 'must be a relative path inside the repository',
  });

const serviceName = z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, 'must be lowercase letters, digits and dashes, starting with a letter (at most 30)');

const healthcheckSchema = z.strictObject({
  http: z.string().regex(/^\/[^\s?#]*(?:\?[^\s#]*)?$/, 'must be a path like /healthz').optional(),
  command: argv.optional(),
  interval: duration.default(2000),
  timeout: duration.default(2000),
  retries: z.number().int().min(1).max(1000).default(30),
});

const serviceSchema = z.strictObject({
  name: serviceName,
  build: z.strictObject({ context: repoPath.default('.'), containerfile: repoPath.optional() }).optional(),
  image: imageRef.optional(),
  command: argv.optional(),
  port: z.number().int().min(1).max(65535).optional(),
  env: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.union([z.string(), z.number(), z.boolean()]).transform(String))
    .default({}),
  healthcheck: healthcheckSchema.optional(),
});

const rootSchema = z.strictObject({
  services: z.array(serviceSchema).min(1, 'needs at least one service'),
  routes: z.record(z.string(), z.string()).optional(),
  database: z.enum(['host', 'container', 'none']).default('none'),
  ttl: duration.optional(),
});

type RawConfig = z.infer<typeof rootSchema>;

/** Path prefixes: `/`, `/api`, `/static/v1`; no dot segments, empty segments, query or spaces. */
function routePrefixProblem(prefix: string): string | null {
  if (!prefix.startsWith('/')) return 'must start with /';
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(prefix)) return 'may contain only URL path characters';
  const segments = prefix.replace(/\/$/, '').split('/').slice(1);
  if (prefix !== '/' && segments.some((s) => s === '' || s === '.' || s === '..')) return 'must not contain empty, . or .. segments';
  return null;
}

/** Cross-field rules, reported at the path the user has to edit. */
function checkRelations(cfg: RawConfig, ctx: z.RefinementCtx): void {
  const firstIndex = new Map<string, number>();
  cfg.services.forEach((s, i) => {
    const seen = firstIndex.get(s.name);
    if (seen !== undefined) ctx.addIssue({ code: 'custom', path: ['services', i, 'name'], message: `duplicate service name "${s.name}" (also services.${seen})` });
    else firstIndex.set(s.name, i);
    if (s.build && s.image) ctx.addIssue({ code: 'custom', path: ['services', i, 'image'], message: 'give either build or image, not both' });
    if (!s.build && !s.image && !s.command) ctx.addIssue({ code: 'custom', path: ['services', i], message: 'needs build, image or command' });
    if (s.healthcheck) {
      const { http, command } = s.healthcheck;
      if ((http === undefined) === (command === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'healthcheck'], message: 'needs exactly one of http or command' });
      } else if (http !== undefined && s.port === undefined) {
        ctx.addIssue({ code: 'custom', path: ['services', i, 'healthcheck', 'http'], message: 'an http healthcheck needs the service port' });
      }
    }
  });
  const normalized = new Map<string, string>();
  for (const [prefix, target] of Object.entries(cfg.routes ?? {})) {
    const problem = routePrefixProblem(prefix);
    if (problem) {
      ctx.addIssue({ code: 'custom', path: ['routes', prefix], message: `route ${prefix} ${problem}` });
      continue;
    }
    const norm = normalizePrefix(prefix);
    const clash = normalized.get(norm);
    if (clash !== undefined) ctx.addIssue({ code: 'custom', path: ['routes', prefix], message: `route ${prefix} is the same as ${clash}` });
    normalized.set(norm, prefix);
    const index = firstIndex.get(target);
    if (index === undefined) {
      ctx.addIssue({ code: 'custom', path: ['routes', prefix], message: `no service named "${target}" (services: ${[...firstIndex.keys()].join(', ')})` });
    } else if (cfg.services[index]!.port === undefined) {
      ctx.addIssue({ code: 'custom', path: ['routes', prefix], message: `service "${target}" has no port to route to` });
    }
  }
  const first = cfg.services[0];
  if (first && !normalized.has('/') && first.port === undefined) {
    ctx.addIssue({ code: 'custom', path: ['services', 0, 'port'], message: 'the first service serves / and needs a port (or add a route for /)' });
  }
}

function normalizePrefix(prefix: string): string {
  return prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix;
}

const previewConfigSchema = rootSchema.superRefine(checkRelations).transform((cfg): PreviewConfig => {
  const routes = new Map<string, string>(Object.entries(cfg.routes ?? {}).map(([p, s]) => [normalizePrefix(p), s]));
  if (!routes.has('/')) routes.set('/', cfg.services[0]!.name);
  return {
    services: cfg.services.map((s) => ({
      name: s.name,
      build: s.build ? { context: s.build.context, containerfile: s.build.containerfile ?? null } : null,
      image: s.image ?? null,
      command: s.command ?? null,
      port: s.port ?? null,
      env: s.env,
      healthcheck: s.healthcheck
        ? {
            ...(s.healthcheck.http !== undefined ? { kind: 'http' as const, path: s.healthcheck.http } : { kind: 'command' as const, command: s.healthcheck.command! }),
            intervalMs: s.healthcheck.interval,
            timeoutMs: s.healthcheck.timeout,
            retries: s.healthcheck.retries,
          }
        : null,
    })),
    routes: [...routes].map(([p, service]) => ({ path: p, service })).sort((a, b) => b.path.length - a.path.length || a.path.localeCompare(b.path)),
    database: cfg.database,
    ttlMs: cfg.ttl ?? null,
  };
});

/** Validates a `berth.preview.yaml` text; every problem carries its line and column. Never throws. */
export function checkPreviewConfig(text: string, fileName = PREVIEW_CONFIG_FILE): PreviewConfigResult {
  const fail = (problems: PreviewConfigProblem[]): PreviewConfigResult => ({
    ok: false,
    problems,
    message: problems.map((p) => formatProblem(fileName, p)).join('\n'),
  });
  if (Buffer.byteLength(text) > MAX_BYTES) return fail([{ line: 1, col: 1, path: '', message: `is larger than ${MAX_BYTES / 1024} KiB` }]);

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return fail(
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return { line, col, path: '', message: e.message.split('\n')[0]! };
      }),
    );
  }
  if (doc.contents === null) return fail([{ line: 1, col: 1, path: '', message: 'is empty; it needs at least a services list' }]);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    return fail([{ line: 1, col: 1, path: '', message: err instanceof Error ? err.message : String(err) }]);
  }
  const parsed = previewConfigSchema.safeParse(data);
  if (parsed.success) return { ok: true, config: parsed.data };
  const problems = parsed.error.issues.map((issue) => {
    const at = issuePath(issue);
    const { line, col } = locate(doc, lines, at.path, at.key);
    return { line, col, path: [...at.path, ...(at.key === undefined ? [] : [at.key])].join('.'), message: at.message };
  });
  problems.sort((a, b) => a.line - b.line || a.col - b.col);
  return fail(problems);
}

/** Like checkPreviewConfig, but throws BerthError('E_PREVIEW_CONFIG_INVALID') with every problem, one per line. */
export function parsePreviewConfig(text: string, fileName = PREVIEW_CONFIG_FILE): PreviewConfig {
  const result = checkPreviewConfig(text, fileName);
  if (result.ok) return result.config;
  throw new BerthError('E_PREVIEW_CONFIG_INVALID', result.message, { hint: `fix ${fileName} in the pull request and push again` });
}

/** `berth.preview.yaml:12:5: services.0.port: expected number, received string` */
export function formatProblem(fileName: string, p: PreviewConfigProblem): string {
  return `${fileName}:${p.line}:${p.col}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/**
 * Where an issue points: the path of a node, plus the offending key when the problem is the key
 * itself (unknown key, bad record key) so the position lands on the key, not on its value.
 */
function issuePath(issue: z.core.$ZodIssue): { path: (string | number)[]; key?: string; message: string } {
  const p = issue.path.map((seg) => (typeof seg === 'symbol' ? String(seg) : seg));
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) return { path: p, key: issue.keys[0], message: issue.message };
  if (issue.code === 'invalid_key' && p.length > 0) {
    return { path: p.slice(0, -1), key: String(p[p.length - 1]), message: issue.issues[0]?.message ?? issue.message };
  }
  return { path: p, message: issue.message };
}

/** Line/col of the deepest existing node on `segments` (or of `key` inside it); 1:1 when nothing matches. */
function locate(doc: Document, lines: LineCounter, segments: (string | number)[], key?: string): { line: number; col: number } {
  for (let n = segments.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true)) as YamlNode | null | undefined;
    if (!node || typeof node !== 'object' || !('range' in node) || !node.range) continue;
    if (key !== undefined && n === segments.length && isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === key);
      const keyNode = pair?.key as YamlNode | undefined;
      if (keyNode?.range) return lines.linePos(keyNode.range[0]);
    }
    return lines.linePos(node.range[0]);
  }
  return { line: 1, col: 1 };
}
