import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { BerthClient, CliError, errorFromResponse, readToken, resolveDaemonUrl, resolveTokenPath, workspacePath } from './client.js';

test('resolveDaemonUrl: flag, then BERTH_URL, then BERTH_PORT on loopback', () => {
  assert.equal(resolveDaemonUrl('http://h:1/', { BERTH_URL: 'http://u:2' }), 'http://h:1');
  assert.equal(resolveDaemonUrl(undefined, { BERTH_URL: 'https://berth.example.com/' }), 'https://berth.example.com');
  assert.equal(resolveDaemonUrl(undefined, { BERTH_PORT: '9100' }), 'http://127.0.0.1:9100');
  assert.equal(resolveDaemonUrl(undefined, {}), 'http://127.0.0.1:8995');
  assert.throws(() => resolveDaemonUrl('ftp://x', {}), (e: unknown) => e instanceof CliError && e.exitCode === 2);
  assert.throws(() => resolveDaemonUrl('not a url', {}), /invalid daemon URL/);
});

test('resolveTokenPath resolves BERTH_DATA_DIR (default ./.berth) against cwd', () => {
  assert.equal(resolveTokenPath({}, '/srv/app'), '/srv/app/.berth/token');
  assert.equal(resolveTokenPath({ BERTH_DATA_DIR: 'data' }, '/srv/app'), '/srv/app/data/token');
  assert.equal(resolveTokenPath({ BERTH_DATA_DIR: '/var/lib/berth' }, '/srv/app'), '/var/lib/berth/token');
});

test('readToken trims the file and returns undefined when it is missing', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-cli-'));
  try {
    writeFileSync(path.join(dir, 'token'), 'berth_abc\n');
    assert.equal(readToken(path.join(dir, 'token')), 'berth_abc');
    assert.equal(readToken(path.join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errorFromResponse keeps API codes and hints, and explains other answers', () => {
  const taken = errorFromResponse(409, 'Conflict', '{"error":{"code":"E_NAME_TAKEN","message":"workspace \\"x\\" already exists","hint":"pick another"}}');
  assert.equal(taken.code, 'E_NAME_TAKEN');
  assert.equal(taken.message, 'workspace "x" already exists');
  assert.equal(taken.hint, 'pick another');
  assert.equal(taken.exitCode, 1);
  const unauth = errorFromResponse(401, 'Unauthorized', '{"error":{"code":"E_UNAUTHORIZED","message":"missing or invalid API token"}}', '/d/token');
  assert.match(unauth.hint ?? '', /no token at \/d\/token/);
  const html = errorFromResponse(502, 'Bad Gateway', '<html>\n<body>nginx</body></html>');
  assert.equal(html.message, 'daemon answered 502 Bad Gateway');
  assert.equal(html.code, undefined);
  assert.equal(html.hint, '<html> <body>nginx</body></html>');
});

test('workspacePath escapes the id or name', () => {
  assert.equal(workspacePath('dev'), '/api/workspaces/dev');
  assert.equal(workspacePath('a/b', '/stop'), '/api/workspaces/a%2Fb/stop');
});

test('BerthClient sends the token and JSON, and handles 204 and error answers', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-cli-'));
  writeFileSync(path.join(dir, 'token'), 'berth_secret\n', { mode: 0o600 });
  const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
    if (req.url === '/api/ok') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}');
    if (req.url === '/api/gone') return res.writeHead(204).end();
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"E_NOT_FOUND","message":"workspace \\"nope\\" not found"}}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const client = new BerthClient({ url, tokenPath: path.join(dir, 'token') });
    assert.deepEqual(await client.json('POST', '/api/ok', { body: { name: 'x' } }), { a: 1 });
    assert.equal(seen[0]?.auth, 'Bearer berth_secret');
    assert.equal(seen[0]?.body, '{"name":"x"}');
    assert.equal(await client.json('DELETE', '/api/gone'), undefined);
    await client.json('GET', '/api/ok', { auth: false });
    assert.equal(seen[2]?.auth, undefined);
    await assert.rejects(client.json('GET', '/api/nope'), (e: unknown) => e instanceof CliError && e.code === 'E_NOT_FOUND' && e.status === 404);
    const noToken = new BerthClient({ url, tokenPath: path.join(dir, 'missing') });
    await noToken.json('GET', '/api/ok');
    assert.equal(seen[4]?.auth, undefined);
    assert.equal(client.wsUrl('/api/x'), url.replace('http', 'ws') + '/api/x');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('BerthClient reports an unreachable daemon with one clear sentence', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  const client = new BerthClient({ url: `http://127.0.0.1:${port}`, tokenPath: '/nonexistent/token' });
  await assert.rejects(client.json('GET', '/api/status'), (e: unknown) => {
    assert.ok(e instanceof CliError);
    assert.equal(e.message, `cannot reach the Berth daemon at http://127.0.0.1:${port} — start it with ./berth up`);
    assert.equal(e.hint, undefined);
    return true;
  });
});
