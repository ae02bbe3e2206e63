import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createDashboardHandler, resolveInside, rewriteBase, DASHBOARD_CSP } from './static.js';

const INDEX = '<!doctype html><html><head><base href="/"><script type="module" src="./assets/index-abc123.js"></script></head><body></body></html>';
const BIG_JS = 'export const x = 1;\n'.repeat(200);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Sends a request with the path exactly as given (no client-side normalization). */
function raw(port: number, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard static handler', () => {
  let dir: string;
  let server: http.Server;
  let port: number;
  let prefix = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-web-'));
    const dist = path.join(dir, 'dist');
    mkdirSync(path.join(dist, 'assets'), { recursive: true });
    mkdirSync(path.join(dist, '.vite'));
    writeFileSync(path.join(dist, 'index.html'), INDEX);
    writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), BIG_JS);
    writeFileSync(path.join(dist, 'assets', 'index-abc123.css'), 'body{color:red}');
    writeFileSync(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    writeFileSync(path.join(dist, '.vite', 'manifest.json'), '{"secret":true}');
    writeFileSync(path.join(dir, 'secret.txt'), 'outside the dist dir');
    const handler = createDashboardHandler({ distDir: dist, prefixFor: () => prefix });
    server = http.createServer((req, res) => {
      if (!handler(req, res)) {
        res.writeHead(599, { 'content-type': 'text/plain' });
        res.end('passed on');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with security headers and no-cache', async () => {
    prefix = '';
    const a = await raw(port, '/');
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(a.headers['cache-control'], 'no-cache');
    assert.equal(a.headers['content-security-policy'], DASHBOARD_CSP);
    assert.match(DASHBOARD_CSP, /default-src 'self'/);
    assert.match(DASHBOARD_CSP, /frame-ancestors 'none'/, 'no page may frame the dashboard');
    assert.match(DASHBOARD_CSP, /connect-src 'self' ws: wss:/);
    assert.equal(a.headers['x-content-type-options'], 'nosniff');
    assert.match(a.body.toString(), /<base href="\/">/);
  });

  it('rewrites <base href> to the outer prefix, with an ETag per prefix', async () => {
    prefix = '/berth';
    const a = await raw(port, '/');
    assert.match(a.body.toString(), /<base href="\/berth\/">/);
    prefix = '/other/sub';
    const b = await raw(port, '/index.html');
    assert.match(b.body.toString(), /<base href="\/other\/sub\/">/);
    assert.notEqual(a.headers.etag, b.headers.etag);
    const again = await raw(port, '/', { headers: { 'if-none-match': String(b.headers.etag) } });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
    prefix = '';
  });

  it('escapes a prefix it pastes into HTML', () => {
    assert.equal(rewriteBase('<base href="/">', '/a"><script>'), '<base href="/a&quot;&gt;&lt;script&gt;/">');
    assert.equal(rewriteBase('<base href="/">', '/x/'), '<base href="/x/">');
  });

  it('serves hashed assets as immutable with their content type, gzipped when accepted', async () => {
    const js = await raw(port, '/assets/index-abc123.js', { headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(js.body).toString(), BIG_JS);
    const plain = await raw(port, '/assets/index-abc123.js');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), BIG_JS);
    const css = await raw(port, '/assets/index-abc123.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const svg = await raw(port, '/favicon.svg');
    assert.equal(svg.headers['content-type'], 'image/svg+xml');
    assert.equal(svg.headers['cache-control'], 'no-cache');
    const cond = await raw(port, '/favicon.svg', { headers: { 'if-none-match': String(svg.headers.etag) } });
    assert.equal(cond.status, 304);
  });

  it('answers HEAD with headers only', async () => {
    const a = await raw(port, '/assets/index-abc123.css', { method: 'HEAD' });
    assert.equal(a.status, 200);
    assert.equal(a.headers['content-length'], String('body{color:red}'.length));
    assert.equal(a.body.length, 0);
  });

  it('falls back to the app for client-side routes, 404 for missing files', async () => {
    const deep = await raw(port, '/settings/users?tab=1');
    assert.equal(deep.status, 200);
    assert.match(deep.body.toString(), /<base href="\/">/);
    assert.equal((await raw(port, '/missing.js')).status, 404);
    assert.equal((await raw(port, '/assets/gone')).status, 404);
  });

  it('passes on the API, the edge prefixes and non-GET methods', async () => {
    for (const p of ['/api/health', '/api', '/hosted/x/9000/', '/embed/app/', '/webhooks/github', '/llm/v1']) {
      assert.equal((await raw(port, p)).status, 599, p);
    }
    assert.equal((await raw(port, '/', { method: 'POST' })).status, 599);
    assert.equal((await raw(port, '/assets/index-abc123.js', { method: 'DELETE' })).status, 599);
  });

  it('never serves anything outside distDir, nor dot-files (regression: path traversal)', async () => {
    for (const p of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
      '/%2e%2e%2f%2e%2e%2fetc/passwd',
      '/.vite/manifest.json',
      '/%2evite/manifest.json',
      '/index.html%00.js',
      '/%E0%A4%A',
    ]) {
      const a = await raw(port, p);
      assert.ok(!a.body.toString().includes('outside the dist dir'), p);
      assert.ok(!a.body.toString().includes('secret'), p);
      assert.ok(a.status === 404 || (a.status === 200 && a.body.toString().includes('<base')), `${p} → ${a.status}`);
    }
  });

  it('resolveInside stays in the root', () => {
    assert.equal(resolveInside('/srv/dist', '/a/b.js'), path.resolve('/srv/dist/a/b.js'));
    assert.equal(resolveInside('/srv/dist', '/../../etc/passwd'), path.resolve('/srv/dist/etc/passwd'));
    assert.equal(resolveInside('/srv/dist', '/%2e%2e/x'), path.resolve('/srv/dist/x'));
    assert.equal(resolveInside('/srv/dist', '/a%00'), null);
    assert.equal(resolveInside('/srv/dist', '/.git/config'), null);
    assert.equal(resolveInside('/srv/dist', '/%ZZ'), null);
  });

  it('explains a missing build instead of failing', async () => {
    const handler = createDashboardHandler({ distDir: path.join(dir, 'nowhere'), prefixFor: () => '' });
    const s = http.createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    try {
      const a = await raw((s.address() as AddressInfo).port, '/');
      assert.equal(a.status, 503);
      assert.match(a.body.toString(), /npm run build:web/);
    } finally {
      await new Promise<void>((r) => s.close(() => r()));
    }
  });
});
