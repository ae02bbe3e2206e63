/**
 * Idle auto-stop and wake on a real podman workspace, with ms-scale settings (idle 1.5 s, a sweep
 * every 100 ms): HTTP traffic, an open WebSocket exchanging frames and an open exec session each
 * keep it running; without them it is stopped with a reason; its URL then shows the wake page,
 * from which its owner (and only through the dashboard origin, with a click and a CSRF token)
 * starts it and is sent back to the URL, which answers again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { ensureTestImage, TEST_IMAGE_BODY } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';
import { appsSession, login, rawAt, type Session } from '../support/origins.js';

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const IDLE_MS = 1_500;
/**
 * Port 8000: busybox httpd. Port 8001: a WebSocket-shaped echo (busybox nc): it answers the
 * upgrade with 101 and then echoes every byte, so frames flow both ways through the edge.
 */
const WS_SH = `#!/bin/sh
cr=$(printf '\\r')
while IFS= read -r line; do [ "$line" = "$cr" ] && break; [ -z "$line" ] && break; done
printf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n'
exec cat
`;
// PID 1 traps TERM: an untrapped shell ignores it and every stop would wait out podman's 10 s.
const COMMAND = ['sh', '-c', 'trap "exit 0" TERM; printf "%s" "$WS_SH" > /tmp/ws.sh && chmod +x /tmp/ws.sh && httpd -p 8000 -h /www && { nc -ll -p 8001 -e /tmp/ws.sh & wait; }'];

/** A masked client text frame (RFC 6455 §5.3). */
function maskedFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([1, 2, 3, 4]);
  const out = Buffer.alloc(6 + payload.length);
  out[0] = 0x81;
  out[1] = 0x80 | payload.length;
  mask.copy(out, 2);
  for (let i = 0; i < payload.length; i++) out[6 + i] = payload[i]! ^ mask[i % 4]!;
  return out;
}

/** Opens a WebSocket to `urlPath` on the apps origin with raw bytes; resolves once it switched (101). */
function openRawSocket(appsUrl: string, urlPath: string, token: string): Promise<{ socket: Socket; received: () => number }> {
  const { port } = new URL(appsUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    let head = '';
    let bytes = 0;
    socket.once('connect', () =>
      socket.write(
        `GET ${urlPath} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      ),
    );
    const onData = (d: Buffer): void => {
      if (head.includes('\r\n\r\n')) {
        bytes += d.length;
        return;
      }
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`no switch: ${head}`));
      resolve({ socket, received: () => bytes });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

describe('idle auto-stop and wake on podman', { skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  let t: TestDaemon;
  let alice: Session;
  let bob: Session;
  let ws: any;
  let httpPath: string;
  let wsPath: string;
  let hereUrl: string;
  const asAlice = () => ({ token: null, headers: { cookie: alice.cookie, 'x-csrf-token': alice.csrf } });
  const state = async (): Promise<any> => (await t.api('GET', `/api/workspaces/${ws.id}`)).body;
  /** The state as recorded now (the API's GET also inspects the container: ~1 s under load, most of an idle period here). */
  const recorded = (): string => t.daemon.workspaces.get(ws.id).state;
  async function untilStopped(limitMs: number): Promise<{ ws: any; ms: number }> {
    const started = Date.now();
    while (Date.now() - started < limitMs) {
      const w = await state();
      if (w.state !== 'running') return { ws: w, ms: Date.now() - started };
      await sleep(50);
    }
    throw new Error(`still running after ${limitMs} ms: ${JSON.stringify((await state()).idle)}`);
  }

  before(async () => {
    t = await startTestDaemon({ runtime: 'podman', idleSweepInterval: '100ms' });
    const image = await ensureTestImage('podman', { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') });
    for (const u of ['alice', 'bob']) assert.equal((await t.api('POST', '/api/users', { username: u, password: `${u}-password-123`, role: 'member' })).status, 201);
    alice = await login(t, 'alice', 'alice-password-123');
    bob = await login(t, 'bob', 'bob-password-123');
    const res = await t.api('POST', '/api/workspaces', { name: 'sleepy', image, command: COMMAND, env: { WS_SH }, idleStop: '1500ms' }, asAlice());
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ws = res.body;
    assert.equal(ws.idle.idleStop, '1s500ms');
    httpPath = `/hosted/${ws.id}/${ws.ports[0].hostPort}/`;
    wsPath = `/hosted/${ws.id}/${ws.ports[1].hostPort}/`;
    hereUrl = `${t.daemon.appsUrl}${httpPath}`;
  });
  after(async () => {
    await t?.stop();
  });

  it('HTTP traffic keeps it running past its idle limit; then it stops, saying why', async () => {
    const until = Date.now() + 2.5 * IDLE_MS;
    let last = 0;
    while (Date.now() < until) {
      const r = await rawAt(t.daemon.appsUrl, httpPath, { authorization: `Bearer ${t.daemon.token}` });
      if (r.status === 200) {
        assert.equal(r.body, TEST_IMAGE_BODY);
        last = Date.now();
      }
      await sleep(250);
    }
    assert.equal(recorded(), 'running', 'stopped while it was answering HTTP');
    const asked = Date.now();
    const w = await state();
    assert.equal(w.idle.lastActiveReason, `HTTP on ${ws.ports[0].hostPort}`);
    assert.ok(Date.parse(w.idle.idleStopAt) > asked, `the stop time lies ahead (${w.idle.idleStopAt} vs ${new Date(asked).toISOString()})`);
    const { ws: stopped } = await untilStopped(5 * IDLE_MS);
    const idleFor = Date.now() - last;
    assert.equal(stopped.state, 'stopped');
    assert.ok(idleFor >= IDLE_MS, `stopped after only ${idleFor} ms of idleness`);
    assert.match(stopped.reason, new RegExp(`^idle-stopped: no activity for .*limit 1s500ms; last activity: HTTP on ${ws.ports[0].hostPort} at `));
    assert.equal(stopped.idle.idleStopAt, null, 'a stopped workspace has no stop time');
  });

  it('its URL: JSON 503 for API clients, the normal refusal for strangers, the wake page for its owner', async () => {
    const apiClient = await rawAt(t.daemon.appsUrl, httpPath, { authorization: `Bearer ${t.daemon.token}`, accept: 'application/json' });
    assert.equal(apiClient.status, 503);
    const err = JSON.parse(apiClient.body).error;
    assert.equal(err.code, 'E_WORKSPACE_STOPPED');
    assert.match(err.hint, /berth ws start sleepy/);
    const anonymous = await rawAt(t.daemon.appsUrl, httpPath, { accept: 'text/html' });
    assert.equal(anonymous.status, 302, 'a private stopped workspace is refused like a running one');
    assert.equal((await rawAt(t.daemon.appsUrl, httpPath, { accept: 'application/json' })).status, 401);
    // Bob may not even get a ticket for it, nor Alice's start page.
    assert.equal((await rawAt(t.daemon.url, `/api/auth/handoff?to=${encodeURIComponent(hereUrl)}`, { cookie: bob.cookie })).status, 404);
    assert.equal((await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(hereUrl)}`, { cookie: bob.cookie })).status, 404);

    const aliceApps = await appsSession(t, alice, httpPath);
    const page = await rawAt(t.daemon.appsUrl, httpPath, { cookie: aliceApps, accept: 'text/html' });
    assert.equal(page.status, 503);
    assert.match(page.body, /Workspace “sleepy” is stopped/);
    assert.match(page.body, /idle-stopped/);
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    const link = /id="berth-start" href="([^"]+)"/.exec(page.body)?.[1]?.replace(/&#38;/g, '&');
    assert.equal(link, `${t.daemon.url}/api/wake?to=${encodeURIComponent(hereUrl)}`);
  });

  it('no page on another origin can start it: cross-origin POSTs, missing CSRF and GETs change nothing', async (tc) => {
    const confirm = await rawAt(t.daemon.url, `/api/wake?to=${encodeURIComponent(hereUrl)}`, { cookie: alice.cookie, 'sec-fetch-site': 'same-site' });
    assert.equal(confirm.status, 200, 'the confirm page (a GET) is shown to its owner');
    assert.match(String(confirm.headers['content-security-policy']), /frame-ancestors 'none'/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)![1]!;
    assert.equal(csrf, alice.csrf);
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const post = (headers: Record<string, string>, body: string) =>
      new Promise<{ status: number; body: string; location?: string }>((resolve, reject) => {
        const { port } = new URL(t.daemon.url);
        const req = http.request(
          { host: '127.0.0.1', port, path: '/api/wake', method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), ...headers } },
          (res) => {
            let b = '';
            res.on('data', (d: Buffer) => (b += d));
            res.on('end', () => resolve({ status: res.statusCode!, body: b, ...(res.headers.location ? { location: res.headers.location } : {}) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const appsOrigin = new URL(t.daemon.appsUrl).origin;
    // A hostile page on the apps origin (another tenant's workspace) posting the form with Alice's cookie, even knowing the token.
    const hostile = await post({ cookie: alice.cookie, origin: appsOrigin, 'sec-fetch-site': 'same-site' }, form({ to: hereUrl, csrf }));
    assert.equal(hostile.status, 403);
    assert.equal(JSON.parse(hostile.body).error.code, 'E_CROSS_ORIGIN');
    const noOrigin = await post({ cookie: alice.cookie, 'sec-fetch-site': 'cross-site' }, form({ to: hereUrl, csrf }));
    assert.equal(noOrigin.status, 403);
    const noToken = await post({ cookie: alice.cookie, origin: new URL(t.daemon.url).origin, 'sec-fetch-site': 'same-origin' }, form({ to: hereUrl }));
    assert.equal(noToken.status, 403);
    assert.equal(JSON.parse(noToken.body).error.code, 'E_CSRF');
    const bobs = await post({ cookie: bob.cookie, origin: new URL(t.daemon.url).origin, 'sec-fetch-site': 'same-origin' }, form({ to: hereUrl, csrf: bob.csrf }));
    assert.equal(bobs.status, 404, "another member's own valid session cannot start it");
    // The plain API refuses the apps origin too.
    const apiStart = await rawAt(t.daemon.url, `/api/workspaces/${ws.id}/start`, { cookie: alice.cookie, 'x-csrf-token': alice.csrf, origin: appsOrigin, 'sec-fetch-site': 'same-site' }, 'POST');
    assert.equal(apiStart.status, 403);
    assert.equal((await state()).state, 'stopped', 'something started it');

    // The owner's click: a same-origin POST with the token. Back through the hand-off once the port answers.
    const started = Date.now();
    const ok = await post({ cookie: alice.cookie, origin: new URL(t.daemon.url).origin, 'sec-fetch-site': 'same-origin' }, form({ to: hereUrl, csrf }));
    const wakeMs = Date.now() - started;
    assert.equal(ok.status, 303, ok.body);
    assert.equal(ok.location, `${t.daemon.url}/api/auth/handoff?to=${encodeURIComponent(hereUrl)}`);
    assert.equal((await state()).state, 'running');
    const minted = await rawAt(t.daemon.url, new URL(ok.location!).pathname + new URL(ok.location!).search, { cookie: alice.cookie });
    assert.equal(minted.status, 302);
    const ticket = new URL(minted.headers.location!);
    const redeemed = await rawAt(t.daemon.appsUrl, ticket.pathname + ticket.search);
    assert.equal(redeemed.headers.location, httpPath);
    const back = await rawAt(t.daemon.appsUrl, httpPath, { cookie: String(redeemed.headers['set-cookie']).split(';')[0]!, accept: 'text/html' });
    assert.equal(back.status, 200);
    assert.equal(back.body, TEST_IMAGE_BODY);
    const audit = await t.api('GET', '/api/audit?limit=20');
    assert.ok(audit.body.entries.some((e: any) => e.action === 'workspace.start' && e.target === 'sleepy' && /wake/.test(JSON.stringify(e.detail))), 'the start is audited');
    tc.diagnostic(`wake: POST → 303 in ${wakeMs} ms (podman start + port check)`);
  });

  it('an open WebSocket exchanging frames keeps it running; closed, it stops', async () => {
    const { socket, received } = await openRawSocket(t.daemon.appsUrl, wsPath, t.daemon.token);
    try {
      const until = Date.now() + 2.5 * IDLE_MS;
      while (Date.now() < until) {
        socket.write(maskedFrame('tick'));
        await sleep(400);
      }
      assert.equal(recorded(), 'running', 'stopped while its WebSocket was busy');
      socket.write(maskedFrame('tock'));
      const w = await state();
      assert.equal(w.idle.lastActiveReason, `WebSocket on ${ws.ports[1].hostPort}`);
      assert.ok(received() > 0, 'the echo came back through the edge');
    } finally {
      socket.destroy();
    }
    const { ws: stopped } = await untilStopped(5 * IDLE_MS);
    assert.match(stopped.reason, new RegExp(`last activity: WebSocket on ${ws.ports[1].hostPort}`));
  });

  it('an open exec session keeps it running however quiet; its end starts the idle clock', async () => {
    assert.equal((await t.api('POST', `/api/workspaces/${ws.id}/start`)).status, 200);
    const shell = new WebSocket(`${t.daemon.url.replace('http', 'ws')}/api/workspaces/${ws.id}/exec?cmd=sleep&cmd=4`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
    const exited = new Promise<void>((resolve) => shell.on('close', () => resolve()));
    await new Promise((resolve, reject) => {
      shell.once('open', resolve);
      shell.once('error', reject);
    });
    await sleep(2.2 * IDLE_MS);
    assert.equal(recorded(), 'running', 'stopped under an open shell');
    const w = await state();
    assert.equal(w.idle.openSessions, 1);
    assert.equal(w.idle.lastActiveReason, 'exec session');
    await exited;
    const { ws: stopped } = await untilStopped(5 * IDLE_MS);
    assert.match(stopped.reason, /last activity: exec session/);
  });
});
