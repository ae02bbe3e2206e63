/**
 * BERTH_TLS=acme against Pebble (Let's Encrypt's test CA) and its DNS test server, all on
 * loopback, with a real daemon and real TLS handshakes verified against Pebble's root: the
 * dashboard host is ordered at start (HTTP-01 through the redirect listener), a routed app host
 * on its first handshake, a random SNI name orders nothing, a restart reuses what is stored, a
 * renewal brings a new serial, a failed renewal keeps the old certificate serving with the reason
 * in the status, and a wildcard comes through DNS-01 with the Cloudflare API format.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls, { type PeerCertificate } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { CloudflareDns } from '../../src/edge/tls/acme/dns-cloudflare.js';
import { isBerthError } from '../../src/errors.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { startFakeCloudflare, type FakeCloudflare } from '../support/fake-cloudflare.js';
import { exitWhenStuck } from '../support/exit-watchdog.js';
import { freeLoopbackPort } from '../support/free-port.js';
import { startPebble, type Pebble } from '../support/pebble.js';
import { poll } from '../support/wait.js';
import { ECHO_SERVER } from '../support/workloads.js';

const DASHBOARD = 'berth.example.com';

/** Handshake with SNI `servername`; `ca` given: the chain must verify for that name. */
function handshake(port: number, servername: string, ca?: string): Promise<PeerCertificate & { authorized: boolean; authorizationError: string | null }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ...(ca ? { ca } : { rejectUnauthorized: false }), ALPNProtocols: ['http/1.1'] }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve({ ...cert, authorized: s.authorized, authorizationError: s.authorizationError ? String(s.authorizationError) : null });
    });
    s.setTimeout(30_000, () => s.destroy(new Error(`handshake with ${servername} timed out`)));
    s.on('error', reject);
  });
}

function get(port: number, host: string, urlPath: string, ca: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const method = body === undefined ? 'GET' : 'POST';
    const json = body === undefined ? {} : { 'content-type': 'application/json' };
    const req = https.request({ method, host: '127.0.0.1', port, path: urlPath, servername: host, ca, headers: { host, ...json, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const acmeStatus = (t: TestDaemon, name: string) => t.daemon.tlsStatus().find((s) => s.source === `acme:${name}`);

describe('BERTH_TLS=acme with Pebble', () => {
  let pebble: Pebble;
  let root: string;
  let httpPort: number;
  let dataDir: string;
  let t: TestDaemon | null = null;
  let firstSerial = '';
  let base: Record<string, unknown>;

  before(async () => {
    httpPort = await freeLoopbackPort();
    pebble = await startPebble({ httpPort, tlsPort: await freeLoopbackPort() });
    root = await pebble.root();
    // One on-demand order an hour: the second routed host below must wait for the next hour.
    base = { tls: 'acme', httpPort, publicUrl: `https://${DASHBOARD}`, appsDomain: 'apps.example.com', acmeDirectoryUrl: pebble.directoryUrl, acmeCaFile: pebble.caFile, acmeOnDemandPerHour: 1 };
    // Kept across the restarts below (startTestDaemon removes only a data dir it made itself).
    dataDir = mkdtempSync(path.join(tmpdir(), 'berth-acme-'));
    t = await startTestDaemon({ ...base, dataDir });
  });
  after(async () => {
    exitWhenStuck('tls-acme.test.ts');
    await t?.stop();
    await pebble?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('orders the dashboard host at start over HTTP-01; the certificate verifies with Pebble\'s root and is kept 0600', async () => {
    const status = await poll('the dashboard certificate', async () => acmeStatus(t!, DASHBOARD)?.notAfter ? acmeStatus(t!, DASHBOARD) : null, 60_000);
    assert.deepEqual([status.names, status.error], [[DASHBOARD], null]);
    const peer = await handshake(t!.daemon.port, DASHBOARD, root);
    assert.equal(peer.authorized, true, peer.authorizationError ?? '');
    assert.match(peer.subjectaltname ?? '', new RegExp(`DNS:${DASHBOARD}`));
    firstSerial = peer.serialNumber;
    // Without Pebble's root the chain does not verify: it is Pebble's certificate being served.
    await assert.rejects(handshake(t!.daemon.port, DASHBOARD, tls.rootCertificates.join('\n')), /unable to (get|verify)|self[- ]signed/i);
    const res = await get(t!.daemon.port, DASHBOARD, '/api/status', root, { authorization: `Bearer ${t!.daemon.token}` });
    assert.equal(res.status, 200, res.body);
    const api = JSON.parse(res.body).tls;
    assert.equal(api.mode, 'acme');
    assert.deepEqual(api.certificates.map((c: { source: string; error: string | null }) => [c.source, c.error]), [[`acme:${DASHBOARD}`, null]]);
    const acmeDir = path.join(dataDir, 'tls', 'acme');
    assert.equal(statSync(acmeDir).mode & 0o777, 0o700);
    for (const f of ['account.key', `certs/${DASHBOARD}.key`, `certs/${DASHBOARD}.pem`]) {
      assert.equal(statSync(path.join(acmeDir, f)).mode & 0o777, 0o600, f);
    }
  });

  it('a random SNI name, or an unrouted name under the apps domain, orders nothing', async () => {
    for (const name of ['random-4711.example.org', '9999--nothing.apps.example.com']) {
      const peer = await handshake(t!.daemon.port, name);
      // It gets the fallback certificate, which does not name it (a client refuses it).
      assert.doesNotMatch(peer.subjectaltname ?? '', new RegExp(name.replace(/\./g, '\\.')));
    }
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(t!.daemon.tlsStatus().map((s) => s.source), [`acme:${DASHBOARD}`], 'no order was started for either name');
  });

  it('an app subdomain gets its certificate on its first handshake (the handshake waits for the order)', async () => {
    const res = await get(t!.daemon.port, DASHBOARD, '/api/workspaces', root, { authorization: `Bearer ${t!.daemon.token}` }, { name: 'acme-echo', command: ECHO_SERVER, visibility: 'public' });
    assert.equal(res.status, 201, res.body);
    const created = JSON.parse(res.body);
    const host = `${created.ports[0].hostPort}--${created.id}.apps.example.com`;
    const page = await poll('the app over TLS', async () => {
      const r = await get(t!.daemon.port, host, '/', root);
      return r.status === 200 ? r : null;
    }, 60_000);
    assert.equal(JSON.parse(page.body).headers['x-forwarded-proto'], 'https');
    const status = acmeStatus(t!, host);
    assert.deepEqual([status?.names, status?.error], [[host], null]);
    const peer = await handshake(t!.daemon.port, host, root);
    assert.equal(peer.authorized, true, peer.authorizationError ?? '');
    // Past BERTH_ACME_ON_DEMAND_PER_HOUR even a routed host gets the fallback certificate and no order.
    const second = await get(t!.daemon.port, DASHBOARD, '/api/workspaces', root, { authorization: `Bearer ${t!.daemon.token}` }, { name: 'acme-echo-2', command: ECHO_SERVER, visibility: 'public' });
    assert.equal(second.status, 201, second.body);
    const ws2 = JSON.parse(second.body);
    const host2 = `${ws2.ports[0].hostPort}--${ws2.id}.apps.example.com`;
    const fallback = await handshake(t!.daemon.port, host2);
    assert.doesNotMatch(fallback.subjectaltname ?? '', new RegExp(host2));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(acmeStatus(t!, host2), undefined, 'no order past the hourly limit');
  });

  it('the plain-HTTP listener answers only live challenge tokens (404 otherwise) and redirects the rest', async () => {
    const plain = (urlPath: string) =>
      new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: httpPort, path: urlPath, headers: { host: DASHBOARD } }, (res) => {
          res.resume();
          resolve(res);
        }).on('error', reject);
      });
    assert.equal((await plain('/.well-known/acme-challenge/not-a-live-token')).statusCode, 404);
    const other = await plain('/api/health');
    assert.deepEqual([other.statusCode, other.headers.location], [308, `https://${DASHBOARD}:${t!.daemon.port}/api/health`]);
  });

  it('a restart serves the stored certificate at once and orders nothing', async () => {
    await t!.stop();
    t = await startTestDaemon({ ...base, dataDir });
    // Before any order could have finished: the stored pair is what is served.
    const peer = await handshake(t.daemon.port, DASHBOARD, root);
    assert.equal(peer.serialNumber, firstSerial);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await handshake(t.daemon.port, DASHBOARD, root).then((p) => p.serialNumber), firstSerial);
  });

  it('renews when due (due at once: renewal at a tiny fraction of the lifetime): a new serial', async () => {
    await t!.stop();
    t = await startTestDaemon({ ...base, dataDir, acmeRenewFraction: 1e-9, acmeCheckSeconds: 1 });
    const renewed = await poll('a renewed certificate', async () => {
      const p = await handshake(t!.daemon.port, DASHBOARD, root);
      return p.serialNumber !== firstSerial && p.authorized ? p : null;
    }, 60_000);
    assert.notEqual(renewed.serialNumber, firstSerial);
  });

  it('a renewal that fails (challenge unreachable) keeps the old certificate serving and says why', async () => {
    // The CA now resolves the dashboard host to an address where nothing answers HTTP-01.
    await pebble.dns('/add-a', { host: `${DASHBOARD}.`, addresses: ['127.0.0.2'] });
    try {
      const failed = await poll('the failed renewal in the status', async () => acmeStatus(t!, DASHBOARD)?.error ? acmeStatus(t!, DASHBOARD) : null, 60_000);
      assert.match(failed.error!, /could not validate berth\.example\.com \(http-01\)/);
      assert.ok(failed.notAfter, 'the status still shows the serving certificate');
      const serving = await handshake(t!.daemon.port, DASHBOARD, root);
      assert.equal(serving.authorized, true);
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await handshake(t!.daemon.port, DASHBOARD, root)).serialNumber, serving.serialNumber, 'the old certificate keeps serving (retry waits out its backoff)');
      const res = await get(t!.daemon.port, DASHBOARD, '/api/status', root, { authorization: `Bearer ${t!.daemon.token}` });
      const shown = JSON.parse(res.body).tls.certificates.find((c: { source: string }) => c.source === `acme:${DASHBOARD}`);
      assert.match(shown.error, /could not validate/);
      assert.equal(shown.notAfter, failed.notAfter);
    } finally {
      await pebble.dns('/clear-a', { host: `${DASHBOARD}.` });
    }
  });

  describe('DNS-01 wildcards through the Cloudflare API', () => {
    let cf: FakeCloudflare;
    let w: TestDaemon | null = null;
    before(async () => {
      await t?.stop();
      t = null;
      cf = await startFakeCloudflare({ token: 'cf-token', zones: [{ id: 'zone-example', name: 'example.com' }], dns: (p, b) => pebble.dns(p, b) });
      w = await startTestDaemon({ ...base, previewDomain: 'preview.example.com', acmeDnsProvider: 'cloudflare', acmeCloudflareToken: 'cf-token', acmeCloudflareApiUrl: cf.apiUrl, acmeDnsWaitSeconds: 0 });
    });
    after(async () => {
      await w?.stop();
      await cf?.close();
    });

    it('orders *.{previewDomain} and *.{appsDomain}; any preview host verifies; the TXT record is removed after', async () => {
      for (const wildcard of ['*.preview.example.com', '*.apps.example.com']) {
        const s = await poll(`the ${wildcard} certificate`, async () => {
          const st = acmeStatus(w!, wildcard);
          if (st?.error) throw new Error(st.error);
          return st?.notAfter ? st : null;
        }, 60_000, { fatal: () => true });
        assert.deepEqual(s.names, [wildcard]);
      }
      const peer = await handshake(w!.daemon.port, '7.preview.example.com', root);
      assert.equal(peer.authorized, true, peer.authorizationError ?? '');
      assert.match(peer.subjectaltname ?? '', /DNS:\*\.preview\.example\.com/);
      const lines = cf.calls.map((c) => c.line);
      assert.ok(lines.includes('GET /client/v4/zones?name=preview.example.com'), lines.join('\n'));
      assert.ok(lines.includes('GET /client/v4/zones?name=example.com'), lines.join('\n'));
      assert.equal(lines.filter((l) => l === 'POST /client/v4/zones/zone-example/dns_records').length, 2);
      assert.equal(lines.filter((l) => l.startsWith('DELETE /client/v4/zones/zone-example/dns_records/')).length, 2);
      assert.ok(cf.calls.every((c) => c.authorization === 'Bearer cf-token'));
      const posted = cf.calls.filter((c) => c.line.startsWith('POST')).map((c) => (c.body as { name: string }).name).sort();
      assert.deepEqual(posted, ['_acme-challenge.apps.example.com', '_acme-challenge.preview.example.com']);
    });

    it('a refused token is an E_DNS_PROVIDER error naming Cloudflare\'s reason', async () => {
      const dns = new CloudflareDns({ token: 'wrong', apiUrl: cf.apiUrl });
      await assert.rejects(dns.publish('_acme-challenge.x.example.com', 'abc'), (e: unknown) => isBerthError(e) && e.code === 'E_DNS_PROVIDER' && /10000 Authentication error/.test(e.message) && /Zone:Read and DNS:Edit/.test(e.hint ?? ''));
      const none = new CloudflareDns({ token: 'cf-token', apiUrl: cf.apiUrl });
      await assert.rejects(none.publish('_acme-challenge.x.example.net', 'abc'), /no Cloudflare zone holds/);
    });
  });
});
