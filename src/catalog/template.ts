/**
 * The `${…}` template language of app manifests: which variables exist, how a string is scanned
 * (for validation with positions) and how it is rendered at install time. Pure: secrets come from
 * a callback so the caller can generate each one once and store it.
 *
 * Grammar: `${name}` is a variable, `${secret:NAME}` a per-app generated secret, `$${` a literal
 * `${`. Anything else is copied as is (a lone `$` included).
 */
import { randomBytes } from 'node:crypto';
import type { AppLocation, InfraKind, PostgresCredentials, RedisBinding } from '../domain/app.js';
import { BerthError } from '../errors.js';
import type { AppHealthcheck, AppManifest } from './manifest.js';

/** Every variable a manifest may use, with the shared service it needs (if any). */
export const TEMPLATE_VARIABLES: Readonly<Record<string, InfraKind | null>> = {
  'postgres.url': 'postgres',
  'postgres.host': 'postgres',
  'postgres.port': 'postgres',
  'postgres.user': 'postgres',
  'postgres.password': 'postgres',
  'postgres.database': 'postgres',
  'redis.url': 'redis',
  'redis.host': 'redis',
  'redis.port': 'redis',
  'redis.db': 'redis',
  'app.url': null,
  'app.basePath': null,
  'app.origin': null,
};

/** Secret names: what follows `secret:`. */
export const SECRET_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'var'; name: string; requires: InfraKind | null; raw: string }
  | { kind: 'secret'; name: string; raw: string };

export interface TemplateProblem {
  /** Index in the string where the offending `${` starts. */
  index: number;
  /** The offending text, as written (`${postgres.uri}`), to locate it in the source. */
  raw: string;
  message: string;
}

/** Splits a string into text, variables and secrets; reports unknown variables and bad syntax. */
export function scanTemplate(s: string): { parts: TemplatePart[]; problems: TemplateProblem[] } {
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let text = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      text += '${';
      i += 3;
      continue;
    }
    if (!s.startsWith('${', i)) {
      text += s[i];
      i += 1;
      continue;
    }
    const end = s.indexOf('}', i + 2);
    if (end < 0) {
      problems.push({ index: i, raw: s.slice(i), message: 'unterminated "${": close it with "}" (write "$${" for a literal "${")' });
      break;
    }
    const raw = s.slice(i, end + 1);
    const inner = s.slice(i + 2, end);
    if (text) parts.push({ kind: 'text', text });
    text = '';
    if (inner.startsWith('secret:')) {
      const name = inner.slice('secret:'.length);
      if (SECRET_NAME_RE.test(name)) parts.push({ kind: 'secret', name, raw });
      else problems.push({ index: i, raw, message: `invalid secret name in ${raw}: use 1-64 letters, digits, "_" or "-"` });
    } else if (Object.hasOwn(TEMPLATE_VARIABLES, inner)) {
      parts.push({ kind: 'var', name: inner, requires: TEMPLATE_VARIABLES[inner] ?? null, raw });
    } else {
      problems.push({ index: i, raw, message: `unknown template variable ${raw}${suggest(inner)}` });
    }
    i = end + 1;
  }
  if (text) parts.push({ kind: 'text', text });
  return { parts, problems };
}

function suggest(inner: string): string {
  const known = Object.keys(TEMPLATE_VARIABLES);
  const close = known.find((k) => editDistance(k, inner) <= 2);
  if (close) return ` (did you mean \${${close}}?)`;
  return ` (known: ${known.map((k) => '${' + k + '}').join(', ')}, \${secret:NAME})`;
}

/** Levenshtein distance, for "did you mean" hints on short identifiers. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Everything templates can refer to for one app install. */
export interface TemplateContext {
  app: Pick<AppLocation, 'url' | 'basePath' | 'origin'>;
  /** Present when the app requires postgres. */
  postgres?: PostgresCredentials | undefined;
  /** Present when the app requires redis. */
  redis?: RedisBinding | undefined;
  /**
   * Returns the value of `${secret:NAME}` for this app. The caller generates a value the first time
   * (see `generateSecret`) and stores it, so the same value comes back on every restart.
   */
  getSecret(name: string): string;
}

/** Renders one template string. Throws on syntax problems (manifests are validated before this). */
export function renderTemplate(s: string, ctx: TemplateContext): string {
  const { parts, problems } = scanTemplate(s);
  if (problems.length > 0) throw new BerthError('E_MANIFEST_INVALID', problems[0]!.message);
  return parts.map((p) => (p.kind === 'text' ? p.text : p.kind === 'secret' ? ctx.getSecret(p.name) : variable(p.name, ctx))).join('');
}

function variable(name: string, ctx: TemplateContext): string {
  const [group, field] = name.split('.') as [string, string];
  if (group === 'app') return ctx.app[field as keyof TemplateContext['app']];
  const source = group === 'postgres' ? ctx.postgres : group === 'redis' ? ctx.redis : undefined;
  if (!source) {
    // Validation guarantees `requires` lists the service, so a missing binding is a caller bug.
    throw new BerthError('E_INTERNAL', `template \${${name}} needs ${group}, which was not provisioned for this app`);
  }
  return String((source as unknown as Record<string, string | number>)[field]);
}

/**
 * The app's environment with every template resolved. Pure: the same manifest and context give
 * the same env (secrets are whatever `ctx.getSecret` returns, so store them to keep them stable).
 */
export function renderEnv(manifest: Pick<AppManifest, 'env'>, ctx: TemplateContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(manifest.env)) out[k] = renderTemplate(v, ctx);
  return out;
}

/** The app's command with templates resolved; undefined when the manifest has none (image default). */
export function renderCommand(manifest: Pick<AppManifest, 'command'>, ctx: TemplateContext): string[] | undefined {
  return manifest.command?.map((arg) => renderTemplate(arg, ctx));
}

/** The health check with its path or argv resolved (e.g. `${app.basePath}/healthcheck`). */
export function renderHealthcheck(manifest: Pick<AppManifest, 'healthcheck'>, ctx: TemplateContext): AppHealthcheck {
  const h = manifest.healthcheck;
  return h.kind === 'http' ? { ...h, path: renderTemplate(h.path, ctx) } : { ...h, argv: h.argv.map((a) => renderTemplate(a, ctx)) };
}

/** Every secret the manifest uses (env, command, health check), so the caller can create them before rendering. */
export function manifestSecrets(manifest: Pick<AppManifest, 'env' | 'command' | 'healthcheck'>): string[] {
  const h = manifest.healthcheck;
  return secretsIn([...Object.values(manifest.env), ...(manifest.command ?? []), ...(h.kind === 'http' ? [h.path] : h.argv)]);
}

/** Names of every `${secret:NAME}` in the given strings, each once, in order of appearance. */
export function secretsIn(strings: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const s of strings) for (const p of scanTemplate(s).parts) if (p.kind === 'secret') out.add(p.name);
  return [...out];
}

/**
 * A new secret value: 32 URL-safe characters (192 random bits), safe in URLs, env files and
 * command lines without quoting.
 */
export function generateSecret(): string {
  return randomBytes(24).toString('base64url');
}
