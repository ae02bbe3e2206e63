/**
 * A local git repository holding a tiny preview-able app: two services (`web` at `/`, `api` at
 * `/api`) running `node server.cjs`, `database: host` unless told otherwise. Each answers JSON with
 * its version, service, PR number, SHA and the result of a query on DATABASE_URL (without one:
 * `db: null`); `GET /visit` also writes (a table it creates) and answers the row count. Used by the
 * previews tests and bench.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import path from 'node:path';
import { poll } from './wait.js';

const require = createRequire(import.meta.url);
/** Absolute path of the `pg` package, handed to the app (the checkout has no node_modules). */
const PG_MODULE = path.dirname(require.resolve('pg/package.json'));

const SERVER = `
const http = require('node:http');
const { Pool } = require(process.env.PG_MODULE);
const pool = process.env.DATABASE_URL ? new Pool({ connectionString: process.env.DATABASE_URL, max: 4 }) : null;
let ready = !pool;
if (pool) pool.query('SELECT 1').then(() => { ready = true; }, (e) => { console.error('db:', e.message); process.exit(3); });
const server = http.createServer(async (req, res) => {
  if (req.url === '/healthz') { res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'starting'); return; }
  try {
    let visits = null;
    if (pool && req.url === '/visit') {
      await pool.query('CREATE TABLE IF NOT EXISTS visits (at timestamptz NOT NULL DEFAULT now())');
      await pool.query('INSERT INTO visits DEFAULT VALUES');
      visits = Number((await pool.query('SELECT count(*) AS n FROM visits')).rows[0].n);
    }
    const r = pool ? (await pool.query('SELECT current_database() AS db, current_user AS "user", 40 + 2 AS answer')).rows[0] : { db: null, user: null, answer: null };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      version: process.env.APP_VERSION, service: process.env.SERVICE, path: req.url,
      pr: process.env.PR_NUMBER, sha: process.env.GIT_SHA, previewUrl: process.env.PREVIEW_URL,
      db: r.db, user: r.user, answer: r.answer, visits,
    }));
  } catch (e) {
    res.writeHead(500).end('db error: ' + e.message);
  }
});
// START_DELAY_MS: a slow starter, so tests can act while a build waits for health.
setTimeout(() => server.listen(Number(process.env.PORT), '127.0.0.1'), Number(process.env.START_DELAY_MS || 0));
process.on('SIGTERM', () => process.exit(0));
`;

/** Variations of the fixture's berth.preview.yaml. */
export interface FixtureOptions {
  /** `database:` of the config (default host). */
  database?: 'host' | 'container' | 'none';
  /** Services listen only after this long (default 0). */
  startDelayMs?: number;
}

function config(version: string, opts: FixtureOptions = {}): string {
  const env = `APP_VERSION: ${version}, PG_MODULE: ${JSON.stringify(PG_MODULE)}${opts.startDelayMs ? `, START_DELAY_MS: ${opts.startDelayMs}` : ''}`;
  return `services:
  - name: web
    command: [node, server.cjs]
    port: 3000
    env: { SERVICE: web, ${env} }
    healthcheck: { http: /healthz, interval: 100ms, retries: 300 }
  - name: api
    command: [node, server.cjs]
    port: 3001
    env: { SERVICE: api, ${env} }
    healthcheck: { http: /healthz, interval: 100ms, retries: 300 }
routes:
  /api: api
database: ${opts.database ?? 'host'}
ttl: 7d
`;
}

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim();

/** Creates the repository at `dir` with version `v1` committed; returns the commit SHA. */
export function createPreviewRepo(dir: string, opts?: FixtureOptions): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  return commitVersion(dir, 'v1', opts);
}

/** Commits the app at `version` (with raw config text, to test invalid configs, or config options); returns the SHA. */
export function commitVersion(dir: string, version: string, rawConfig?: string | FixtureOptions): string {
  writeFileSync(path.join(dir, 'server.cjs'), SERVER);
  writeFileSync(path.join(dir, 'berth.preview.yaml'), typeof rawConfig === 'string' ? rawConfig : config(version, rawConfig));
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '--allow-empty', '-m', `version ${version}`);
  return git(dir, 'rev-parse', 'HEAD');
}

/** GET through the edge with a Host header (fetch cannot set Host). */
export function getVia(edgeUrl: string, host: string, urlPath = '/'): Promise<{ status: number; body: string }> {
  const u = new URL(edgeUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: urlPath, method: 'GET', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/**
 * Polls `fn` until it returns something truthy. Errors from `fn` count as "not yet", except an
 * error whose message starts with `preview failed` (a test's way to stop waiting on a dead build).
 */
export async function waitForPreview<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 60_000): Promise<T> {
  // poll() also cuts off an attempt that never settles (a request to a hung edge), which a plain
  // loop awaiting fn() would wait on forever.
  return poll(what, fn, ms, { fatal: (err) => err instanceof Error && err.message.startsWith('preview failed') });
}
