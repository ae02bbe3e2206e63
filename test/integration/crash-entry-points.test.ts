// Issue 11, item 1: one anonymous request must never kill the daemon. Each reproduction goes to a
// real in-process daemon over a raw socket (Node's own client would normalize the targets away).
// Before the fix the first two cases threw out of the edge's `upgrade` listener / access hook and
// took the whole test process down with them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { get, rawRequest } from '../support/edge-harness.js';

/** A workload that only sleeps: the private route exists, nothing needs to answer behind it. */
const SLEEP = [process.execPath, '-e', 'setInterval(() => {}, 1 << 30)'];

describe('crash-proof entry points (regressions)', () => {
  let t: TestDaemon;
  let privatePath: string;
  let appHost: string;

  const alive = async (): Promise<void> => {
    const health = await get(t.daemon.port, '/api/health');
    assert.equal(health.status, 200, 'the daemon stopped answering GET /api/health');
  };

  before(async () => {
    t = await startTestDaemon({ appsDomain: 'apps.test' });
    const res = await t.api('POST', '/api/workspaces', { name: 'secret', command: SLEEP });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.visibility, 'private');
    privatePath = `/hosted/${res.body.id}/${res.body.ports[0].hostPort}/`;
    appHost = `${res.body.ports[0].hostPort}--${res.body.id}.apps.test`;
  });
  after(async () => {
    await t.stop();
  });

  it('exec-socket-invalid-url: an upgrade for `//` answers 404 instead of throwing TypeError: Invalid URL', async () => {
    const res = await rawRequest(t.daemon.port, 'GET // HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    assert.equal(res.status, 404);
    await alive();
  });

  it('exec-socket-invalid-url: other odd upgrade targets (`///`, `//:x`, `http://x`, `*`, `/%zz`) answer 4xx', async () => {
    for (const target of ['///', '//:x/', '//[::1', 'http://x', 'http://[/', '*', '/%zz', '/api/workspaces/%zz/exec']) {
      const res = await rawRequest(t.daemon.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`);
      assert.ok(res.status >= 400 && res.status < 500, `${target} → ${res.status}`);
    }
    await alive();
  });

  it('cookie-bad-percent-encoding: `berth_session=%zz` on a private hosted route answers 401, not URIError', async () => {
    // Path routes live on the apps origin, where the app-origin session cookie is the one read.
    const res = await get(t.daemon.appsPort, privatePath, { Cookie: 'berth_session=%zz; berth_app_session=%zz', Accept: 'application/json' });
    assert.equal(res.status, 401);
    assert.equal(JSON.parse(res.body).error.code, 'E_UNAUTHORIZED');
    await alive();
  });

  it('cookie-bad-percent-encoding: the same cookie on a private WebSocket upgrade, /metrics and the exec endpoint', async () => {
    const upgrade = (target: string, port = t.daemon.port) =>
      rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nCookie: berth_app_session=%E0%A4%A; berth_session=%zz\r\nOrigin: http://x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
    assert.equal((await upgrade(privatePath, t.daemon.appsPort)).status, 401);
    assert.equal((await upgrade('/api/workspaces/secret/exec')).status, 401);
    assert.equal((await get(t.daemon.port, '/metrics', { Cookie: 'berth_session=%' })).status, 401);
    await alive();
  });

  it('handoff-next-control-chars: a hand-off whose next= decodes to CR/LF or non-Latin-1 redirects to / instead of throwing in writeHead', async () => {
    const login = await fetch(`${t.daemon.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    for (const next of ['/%0d%0aSet-Cookie:%20x=1', '/%E2%98%83', '/a%00b']) {
      const mint = await get(t.daemon.port, `/api/auth/handoff?to=${encodeURIComponent(`http://${appHost}/`)}`, { Cookie: cookie });
      assert.equal(mint.status, 302, mint.body);
      const ticket = /ticket=([^&]+)/.exec(mint.headers.location ?? '')![1]!;
      const res = await get(t.daemon.port, `/__berth/handoff?ticket=${ticket}&next=${next}`, { Host: appHost });
      assert.equal(res.status, 302, `${next} → ${res.status}`);
      assert.equal(res.headers.location, '/');
    }
    await alive();
  });

  it('api-host-not-a-url (found by bench/fuzz.ts): an API request whose Host `new URL` rejects answers 400, not 500', async () => {
    // `bb.6` ends in a number, so WHATWG URL parses it as a (bad) IPv4 address; @hono/node-server
    // builds each Request's URL from the Host header and threw "Invalid URL" inside the API.
    for (const host of ['bb.6', '1.2.3.999', 'a..b.256']) {
      for (const method of ['PATCH', 'POST', 'GET']) {
        const res = await get(t.daemon.port, '/api/workspaces/secret', { Host: host, Authorization: `Bearer ${t.daemon.token}`, 'Content-Length': '0' }, { method });
        assert.equal(res.status, 400, `${method} Host: ${host} → ${res.status} ${res.body}`);
        assert.equal(JSON.parse(res.body).error.code, 'E_BAD_REQUEST');
      }
    }
    assert.equal((await get(t.daemon.port, '/api/health', { Host: 'berth.example.com:8995' })).status, 200);
  });

  it('malformed HTTP (clientError) answers 400 and leaves the daemon up', async () => {
    for (const junk of ['\x00\x01\x02\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET / HTTP/1.1\r\nHost x\r\n\r\n', 'GET /\x7f HTTP/1.1\r\n\r\n']) {
      const res = await rawRequest(t.daemon.port, junk);
      assert.equal(res.status, 400, JSON.stringify(junk));
    }
    await alive();
  });
});
