/**
 * BERTH_TLS=files against a real daemon and real TLS handshakes: both origins speak HTTPS with the
 * certificate from disk (SNI for exact and wildcard names), hosted URLs become https, a replaced
 * certificate is served to new handshakes while an open connection keeps working, a bad
 * replacement keeps the old certificate serving and says why, plain HTTP is redirected, HSTS is
 * opt-in, and an unusable certificate stops the start with what to do.
 */
import assert from 'node:assert/strict';
import { copyFileSync, renameSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { isBerthError } from '../../src/errors.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { rawRequest } from '../support/edge-harness.js';
import { freeLoopbackPort } from '../support/free-port.js';
import { createTestCa, type TestCa } from '../support/test-certs.js';
import { poll } from '../support/wait.js';
import { ECHO_SERVER } from '../support/workloads.js';

/** The serial of the certificate a new handshake with `servername` gets. */
function servedSerial(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, ALPNProtocols: ['http/1.1'] }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

function get(url: string, opts: https.RequestOptions = {}, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('BERTH_TLS=files', () => {
  let ca: TestCa;
  let t: TestDaemon;
  let certFile: string;
  let keyFile: string;
  let first: ReturnType<TestCa['issue']>;

  before(async () => {
    ca = createTestCa();
    first = ca.issue('first', ['localhost', '*.apps.test']);
    // The daemon reads these paths; the test replaces their contents as a renewal tool would.
    certFile = path.join(ca.dir, 'live.pem');
    keyFile = path.join(ca.dir, 'live.key');
    copyFileSync(first.certFile, certFile);
    copyFileSync(first.keyFile, keyFile);
    t = await startTestDaemon({ tls: 'files', tlsCertFile: certFile, tlsKeyFile: keyFile, httpPort: await freeLoopbackPort(), hstsMaxAge: 300 });
  });
  after(async () => {
    await t?.stop();
    ca?.cleanup();
  });

  it('serves the API and dashboard over HTTPS with the certificate from disk, with HSTS when asked', async () => {
    assert.match(t.daemon.url, /^https:\/\//);
    const res = await get(`https://localhost:${t.daemon.port}/api/health`, { ca: ca.caPem });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).status, 'ok');
    assert.equal(res.headers['strict-transport-security'], 'max-age=300');
    // Without the test CA the handshake fails: it is really that certificate being served.
    await assert.rejects(get(`https://localhost:${t.daemon.port}/api/health`), /self[- ]signed|unable to (get|verify)/i);
    const [status] = t.daemon.tlsStatus();
    assert.deepEqual([status?.source, status?.names, status?.error], ['files', ['localhost', '*.apps.test'], null]);
  });

  it('picks the certificate by SNI for exact and wildcard names', async () => {
    const serial = await servedSerial(t.daemon.port, 'localhost', ca.caPem);
    assert.equal(await servedSerial(t.daemon.port, 'x.apps.test', ca.caPem), serial);
    // A name one label deeper than the wildcard is not covered: TLS rules, checked by the client.
    await assert.rejects(servedSerial(t.daemon.port, 'a.b.apps.test', ca.caPem), /altnames|does not match/i);
  });

  it('hosted URLs are https and the apps origin speaks TLS too', async () => {
    const created = await get(
      `https://localhost:${t.daemon.port}/api/workspaces`,
      { method: 'POST', ca: ca.caPem, headers: { authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json' } },
      JSON.stringify({ name: 'tls-echo', command: ECHO_SERVER, visibility: 'public' }),
    );
    assert.equal(created.status, 201, created.body);
    const url: string = JSON.parse(created.body).ports[0].url;
    assert.match(url, /^https:\/\//, url);
    const page = await poll('the echo workspace over TLS', async () => {
      const r = await get(url.replace('127.0.0.1', 'localhost'), { ca: ca.caPem });
      return r.status === 200 ? r : null;
    }, 10_000);
    assert.equal(JSON.parse(page.body).headers['x-forwarded-proto'], 'https');
  });

  it('a replaced certificate reaches new handshakes; an open connection keeps working', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: ca.caPem });
    const before1 = await get(`https://localhost:${t.daemon.port}/api/health`, { agent });
    assert.equal(before1.status, 200);
    const oldSerial = await servedSerial(t.daemon.port, 'localhost', ca.caPem);
    const next = ca.issue('second', ['localhost', '*.apps.test']);
    // As certbot and cp --atomic do: write aside, rename over.
    copyFileSync(next.keyFile, `${keyFile}.new`);
    copyFileSync(next.certFile, `${certFile}.new`);
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
    const newSerial = await poll('the replaced certificate', async () => {
      const s = await servedSerial(t.daemon.port, 'localhost', ca.caPem);
      return s !== oldSerial ? s : null;
    }, 15_000);
    assert.notEqual(newSerial, oldSerial);
    // The keep-alive socket made before the reload still serves requests.
    const again = await get(`https://localhost:${t.daemon.port}/api/health`, { agent });
    assert.equal(again.status, 200);
    agent.destroy();
  });

  it('a bad replacement keeps the old certificate serving and says why', async () => {
    const serving = await servedSerial(t.daemon.port, 'localhost', ca.caPem);
    const stranger = ca.issue('stranger', ['localhost']);
    copyFileSync(stranger.keyFile, keyFile); // the cert on disk no longer matches its key
    const status = await poll('the refused reload', async () => t.daemon.tlsStatus().find((s) => s.error !== null) ?? null, 15_000);
    assert.match(status.error!, /does not belong to the certificate/);
    assert.equal(await servedSerial(t.daemon.port, 'localhost', ca.caPem), serving);
    const res = await get(`https://localhost:${t.daemon.port}/api/health`, { ca: ca.caPem });
    assert.equal(res.status, 200);
  });

  it('plain HTTP is redirected to HTTPS on the same host, keeping the path; nothing else is served in clear', async () => {
    const port = t.daemon.httpPort!;
    const r = await get(`http://127.0.0.1:${port}/api/workspaces?x=1`, { headers: { host: 'localhost' } });
    assert.equal(r.status, 308);
    assert.equal(r.headers.location, `https://localhost:${t.daemon.port}/api/workspaces?x=1`);
    const absolute = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: 'http://evil.example/steal', headers: { host: 'localhost' } }, resolve);
      req.on('error', reject);
      req.end();
    });
    assert.equal(absolute.headers.location, `https://localhost:${t.daemon.port}/`, 'an absolute-form target never chooses the path');
    absolute.resume();
    const bad = await get(`http://127.0.0.1:${port}/`, { headers: { host: 'bad host!' } });
    assert.equal(bad.status, 400);
    const challenge = await get(`http://127.0.0.1:${port}/.well-known/acme-challenge/abc`, { headers: { host: 'localhost' } });
    assert.equal(challenge.status, 308, 'no ACME wired: challenges are redirected like any path');
    const garbage = await rawRequest(port, 'NOT HTTP AT ALL\r\n\r\n');
    assert.equal(garbage.status, 400, 'malformed HTTP on the redirect listener');
  });
});

describe('BERTH_TLS=files refuses to start with an unusable certificate', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa();
  });
  after(() => ca?.cleanup());

  const refusal = async (overrides: Record<string, unknown>, pattern: RegExp): Promise<void> => {
    await assert.rejects(startTestDaemon({ tls: 'files', httpPort: 0, ...overrides }), (e: unknown) => isBerthError(e) && e.code === 'E_CONFIG' && pattern.test(e.message) && !!e.hint);
  };

  it('names what is wrong: missing settings, an expired certificate, a key of another certificate, a missing file', async () => {
    const ok = ca.issue('ok', ['localhost']);
    const expired = ca.issue('expired', ['localhost'], { days: -1 });
    await refusal({}, /BERTH_TLS_CERT_FILE and BERTH_TLS_KEY_FILE/);
    await refusal({ tlsCertFile: expired.certFile, tlsKeyFile: expired.keyFile }, /expired on 2020-01-02/);
    await refusal({ tlsCertFile: ok.certFile, tlsKeyFile: expired.keyFile }, /does not belong/);
    await refusal({ tlsCertFile: path.join(ca.dir, 'nope.pem'), tlsKeyFile: ok.keyFile }, /ENOENT|no such file/);
  });
});

describe('BERTH_TLS=files and the HTTP→HTTPS redirect listener (BERTH_HTTP_PORT)', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa();
  });
  after(() => ca?.cleanup());

  it('BERTH_HTTP_PORT=0: HTTPS only, no redirect listener', async () => {
    const ok = ca.issue('only', ['localhost']);
    const t = await startTestDaemon({ tls: 'files', tlsCertFile: ok.certFile, tlsKeyFile: ok.keyFile, httpPort: 0 });
    try {
      assert.equal(t.daemon.httpPort, null);
      assert.equal((await get(`${t.daemon.url}/api/health`, { ca: ca.caPem, servername: 'localhost' })).status, 200);
    } finally {
      await t.stop();
    }
  });

  it('a redirect port in use stops the start with E_CONFIG naming the listener and what to do', async () => {
    const ok = ca.issue('busy', ['localhost']);
    const taken = http.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const port = (taken.address() as { port: number }).port;
    try {
      await assert.rejects(
        startTestDaemon({ tls: 'files', tlsCertFile: ok.certFile, tlsKeyFile: ok.keyFile, httpPort: port }),
        (e: unknown) =>
          isBerthError(e) && e.code === 'E_CONFIG' && e.message === `cannot listen on 127.0.0.1:${port} (HTTP→HTTPS redirect): EADDRINUSE` && /set BERTH_HTTP_PORT \(0 = none\)/.test(e.hint ?? ''),
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
