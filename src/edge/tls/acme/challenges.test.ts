import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../log.js';
import { createRedirectServer, type RedirectServer } from '../redirect.js';
import { dnsChallengeName, Http01Tokens } from './challenges.js';

function get(port: number, urlPath: string, host: string): Promise<{ status: number; body: string; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, location: res.headers.location }));
      })
      .on('error', reject);
  });
}

describe('HTTP-01 answers on the redirect listener', () => {
  const tokens = new Http01Tokens();
  let server: RedirectServer;
  let port: number;
  before(async () => {
    server = createRedirectServer({ httpsPort: () => 443, challenge: tokens.respond, log: silentLogger() });
    port = ((await server.listen(0, '127.0.0.1')) as AddressInfo).port;
  });
  after(() => server.close());

  it('answers a known token for its own host only, 404 for anything else under the challenge path', async () => {
    tokens.add('tok-1', 'Berth.Example.com', 'tok-1.thumbprint');
    const ok = await get(port, '/.well-known/acme-challenge/tok-1', 'berth.example.com');
    assert.deepEqual([ok.status, ok.body], [200, 'tok-1.thumbprint']);
    assert.equal((await get(port, '/.well-known/acme-challenge/tok-1', 'other.example.com')).status, 404, 'another host cannot read the answer');
    assert.equal((await get(port, '/.well-known/acme-challenge/nope', 'berth.example.com')).status, 404);
    assert.equal((await get(port, '/.well-known/acme-challenge/tok-1%0d%0a', 'berth.example.com')).status, 404);
    tokens.remove('tok-1');
    assert.equal((await get(port, '/.well-known/acme-challenge/tok-1', 'berth.example.com')).status, 404, 'withdrawn after its order');
    const other = await get(port, '/x', 'berth.example.com');
    assert.deepEqual([other.status, other.location], [308, 'https://berth.example.com/x']);
  });

  it('DNS-01 record names: a wildcard shares its base name', () => {
    assert.equal(dnsChallengeName('*.apps.example.com'), '_acme-challenge.apps.example.com');
    assert.equal(dnsChallengeName('berth.example.com'), '_acme-challenge.berth.example.com');
  });
});
