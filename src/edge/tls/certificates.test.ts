/**
 * The certificate store's choices per handshake name, with real certificates from a throw-away CA
 * (openssl), and the redirect's Location rules.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createTestCa, type TestCa } from '../../../test/support/test-certs.js';
import { CertificateStore, loadCertificate, nameCovers } from './certificates.js';
import { httpsLocation } from './redirect.js';

describe('nameCovers', () => {
  it('a wildcard covers exactly one label', () => {
    assert.equal(nameCovers('*.apps.test', 'x.apps.test'), true);
    assert.equal(nameCovers('*.apps.test', 'apps.test'), false);
    assert.equal(nameCovers('*.apps.test', 'a.b.apps.test'), false);
    assert.equal(nameCovers('*.apps.test', '.apps.test'), false);
    assert.equal(nameCovers('berth.test', 'berth.test'), true);
    assert.equal(nameCovers('berth.test', 'x.berth.test'), false);
  });
});

describe('CertificateStore', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa();
  });
  after(() => ca?.cleanup());

  it('selects exact names first, then wildcards, then the first loaded; a failed update keeps serving the old one', () => {
    const store = new CertificateStore();
    assert.equal(store.select('berth.test'), null, 'nothing loaded: no certificate');
    const wild = ca.issue('wild', ['*.apps.test', 'berth.test']);
    const exact = ca.issue('exact', ['one.apps.test'], { days: 2 });
    const w = loadCertificate(wild.cert, wild.key);
    const e = loadCertificate(exact.cert, exact.key);
    store.put('files', w);
    store.put('acme:one.apps.test', e);
    assert.equal(store.select('one.apps.test'), e);
    assert.equal(store.select('ONE.apps.test'), e, 'names are case-insensitive');
    assert.equal(store.select('two.apps.test'), w);
    assert.equal(store.select('unknown.example'), w, 'no match: the first loaded (an IP, a scanner)');
    assert.equal(store.select(undefined), w);
    assert.equal(store.covers('two.apps.test'), true);
    assert.equal(store.covers('a.b.apps.test'), false);
    store.fail('acme:one.apps.test', 'order failed: rate limited');
    assert.equal(store.select('one.apps.test'), e, 'the old certificate keeps serving');
    const st = store.status().find((s) => s.source === 'acme:one.apps.test')!;
    assert.equal(st.error, 'order failed: rate limited');
    assert.deepEqual(st.names, ['one.apps.test']);
    store.remove('acme:one.apps.test');
    assert.equal(store.select('one.apps.test'), w);
  });

  it('of two sources covering one name, the later-expiring certificate serves it', () => {
    const store = new CertificateStore();
    const short = ca.issue('short', ['berth.test'], { days: 1 });
    const long = ca.issue('long', ['berth.test'], { days: 3 });
    const s = loadCertificate(short.cert, short.key);
    const l = loadCertificate(long.cert, long.key);
    store.put('a', l);
    store.put('b', s);
    assert.equal(store.select('berth.test'), l);
  });

  it('refuses a certificate without names and text that is not PEM', () => {
    const ok = ca.issue('ok2', ['berth.test']);
    assert.throws(() => loadCertificate('not a certificate', ok.key), /not a PEM X.509 certificate/);
    assert.throws(() => loadCertificate(ok.cert, 'not a key'), /not a PEM private key/);
    const nameless = selfSigned(ca.dir, 'nameless', '/O=Nobody');
    assert.throws(() => loadCertificate(nameless.cert, nameless.key), /names no DNS host \(subjectAltName\)/);
  });

  it('an old certificate without subjectAltName is served for its CN', () => {
    const legacy = selfSigned(ca.dir, 'legacy', '/CN=Legacy.Test');
    assert.deepEqual(loadCertificate(legacy.cert, legacy.key).names, ['legacy.test']);
  });

  it('refuses a certificate not valid yet (a clock more than 5 minutes behind), accepts one within the slack', () => {
    const ok = ca.issue('early', ['berth.test']);
    const from = new Date(new X509Certificate(ok.cert).validFrom).getTime();
    assert.throws(() => loadCertificate(ok.cert, ok.key, new Date(from - 6 * 60_000)), /not valid before/);
    assert.deepEqual(loadCertificate(ok.cert, ok.key, new Date(from - 4 * 60_000)).names, ['berth.test']);
  });

  it('the SNI callback hands over the context, or an error when nothing is loaded', () => {
    const store = new CertificateStore();
    const got: [Error | null, unknown][] = [];
    store.sniCallback('berth.test', (err, ctx) => got.push([err, ctx]));
    assert.match(String(got[0]![0]), /no certificate loaded/);
    const c = loadCertificate(ca.issue('sni', ['berth.test']).cert, readFileSync(`${ca.dir}/sni.key`, 'utf8'));
    store.put('files', c);
    store.sniCallback('berth.test', (err, ctx) => got.push([err, ctx]));
    assert.deepEqual(got[1], [null, c.context]);
  });

  it('a source that failed before it ever loaded shows its error and no certificate, and serves nothing', () => {
    const store = new CertificateStore();
    store.fail('acme:new.apps.test', 'order failed: DNS');
    const w = loadCertificate(ca.issue('w2', ['*.apps.test']).cert, readFileSync(`${ca.dir}/w2.key`, 'utf8'));
    store.put('files', w);
    const failed = store.status().find((st) => st.source === 'acme:new.apps.test')!;
    assert.deepEqual({ ...failed, updatedAt: typeof failed.updatedAt }, { source: 'acme:new.apps.test', names: [], notAfter: null, issuer: null, error: 'order failed: DNS', updatedAt: 'string' });
    assert.equal(store.select('new.apps.test'), w, 'the wildcard of the loaded source, not the failed one');
  });
});

/** A self-signed certificate with `subject` and no subjectAltName (as certificates before SAN had). */
function selfSigned(dir: string, label: string, subject: string): { cert: string; key: string } {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${label}.key`, '-out', `${label}.pem`, '-days', '1', '-subj', subject], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return { cert: readFileSync(`${dir}/${label}.pem`, 'utf8'), key: readFileSync(`${dir}/${label}.key`, 'utf8') };
}

describe('httpsLocation', () => {
  it('keeps host and origin-form path, drops the HTTP port, adds a non-443 HTTPS port', () => {
    assert.equal(httpsLocation('berth.test', '/a?b=1', 443), 'https://berth.test/a?b=1');
    assert.equal(httpsLocation('berth.test:80', '/', 8443), 'https://berth.test:8443/');
    assert.equal(httpsLocation('[::1]:80', '/x', 443), 'https://[::1]/x');
    assert.equal(httpsLocation('BERTH.test', '/', 443), 'https://berth.test/');
  });
  it('never lets the request target choose another host', () => {
    assert.equal(httpsLocation('berth.test', 'http://evil.example/', 443), 'https://berth.test/');
    assert.equal(httpsLocation('berth.test', '//evil.example/x', 443), 'https://berth.test/');
    assert.equal(httpsLocation('berth.test', undefined, 443), 'https://berth.test/');
  });
  it('answers null for a Host that is not a host name', () => {
    assert.equal(httpsLocation(undefined, '/', 443), null);
    assert.equal(httpsLocation('evil.example/x', '/', 443), null);
    assert.equal(httpsLocation('a b', '/', 443), null);
  });
});
