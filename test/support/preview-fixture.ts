/**
 * A local git repository holding a tiny preview-able app: two services (`web` at `/`, `api` at
 * `/api`) running `node server.cjs`, `database: host`. Each answers JSON with its version, service,
 * PR number, SHA and the result of a query on DATABASE_URL. Used by the previews e2e test and bench.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import path from 'node:path';

const require = createRequire(import.meta.url);
/** Absolute path of the `pg` package, handed to the app (the checkout has no node_modules). */
const PG_MODULE = path.dirname(require.resolve('pg/package.json'));

const SERVER = `
const http = require('node:http');
const { Pool } = require(process.env.PG_MODULE);
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
let ready = false;
pool.query('SELECT 1').then(() => { ready = true; }, (e) => { console.error('db:', e.message); process.exit(3); });
http.createServer(async (req, res) => {
  if (req.url === '/healthz') { res.writeHead(ready ? 200 : 503).end(ready ? 'ok' : 'starting'); return; }
  try {
    const r = await pool.query('SELECT current_database() AS db, 40 + 2 AS answer');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      version: process.env.APP_VERSION, service: process.env.SERVICE, path: req.url,
      pr: process.env.PR_NUMBER, sha: process.env.GIT_SHA, previewUrl: process.env.PREVIEW_URL,
      db: r.rows[0].db, answer: r.rows[0].answer,
    }));
  } catch (e) {
    res.writeHead(500).end('db error: ' + e.message);
  }
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function config(version: string): string {
  return `services:
  - name: web
    command: [node, server.cjs]
    port: 3000
    env: { SERVICE: web, APP_VERSION: ${version}, PG_MODULE: ${JSON.stringify(PG_MODULE)} }
    healthcheck: { http: /healthz, interval: 100ms, retries: 100 }
  - name: api
    command: [node, server.cjs]
    port: 3001
    env: { SERVICE: api, APP_VERSION: ${version}, PG_MODULE: ${JSON.stringify(PG_MODULE)} }
    healthcheck: { http: /healthz, interval: 100ms, retries: 100 }
routes:
  /api: api
database: host
ttl: 7d
`;
}

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim();

/** Creates the repository at `dir` with version `v1` committed; returns the commit SHA. */
export function createPreviewRepo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '--quiet', '--initial-branch=main');
  return commitVersion(dir, 'v1');
}

/** Commits the app at `version` (or raw config text, to test invalid configs); returns the SHA. */
export function commitVersion(dir: string, version: string, rawConfig?: string): string {
  writeFileSync(path.join(dir, 'server.cjs'), SERVER);
  writeFileSync(path.join(dir, 'berth.preview.yaml'), rawConfig ?? config(version));
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
