import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isBerthError } from '../../../errors.js';
import { nsupdateCall, Rfc2136Dns, runNsupdate } from './dns-rfc2136.js';

// No RFC 2136 server is installed for the tests (BIND's named is not a test dependency): what is
// checked here is exactly what nsupdate gets — its argv and its stdin — and how its failures read.
describe('RFC 2136 (nsupdate)', () => {
  let dir: string;
  let recorder: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-nsupdate-'));
    // A stand-in nsupdate that records its argv and stdin (a real process reading a real pipe).
    recorder = path.join(dir, 'nsupdate');
    writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/argv"\ncat > "${dir}/stdin"\n[ -z "$FAIL" ] || { echo "update failed: REFUSED" >&2; exit 2; }\n`);
    chmodSync(recorder, 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('adds and deletes the TXT record through stdin, signed with the key file given as an absolute -k', async () => {
    const dns = new Rfc2136Dns({ server: '192.0.2.53:5353', keyFile: 'keys/tsig.key', nsupdateBin: recorder });
    const handle = await dns.publish('_acme-challenge.preview.example.com', 'Zm9vYmFy_-09');
    assert.deepEqual(readFileSync(path.join(dir, 'argv'), 'utf8').split('\n').filter(Boolean), ['-k', path.resolve('keys/tsig.key')]);
    assert.equal(readFileSync(path.join(dir, 'stdin'), 'utf8'), 'server 192.0.2.53 5353\nupdate add _acme-challenge.preview.example.com. 60 IN TXT "Zm9vYmFy_-09"\nsend\nquit\n');
    await dns.remove(handle);
    assert.equal(readFileSync(path.join(dir, 'stdin'), 'utf8'), 'server 192.0.2.53 5353\nupdate delete _acme-challenge.preview.example.com. IN TXT "Zm9vYmFy_-09"\nsend\nquit\n');
  });

  it('port 53 by default, IPv6 in brackets, no -k without a key file', () => {
    assert.deepEqual(nsupdateCall({ server: 'ns1.example.com', nsupdateBin: 'nsupdate' }, 'add', '_acme-challenge.example.com', 'v').args, []);
    assert.match(nsupdateCall({ server: 'ns1.example.com', nsupdateBin: 'nsupdate' }, 'add', '_acme-challenge.example.com', 'v').input, /^server ns1\.example\.com 53\n/);
    assert.match(nsupdateCall({ server: '[2001:db8::53]:5300', nsupdateBin: 'nsupdate' }, 'add', '_acme-challenge.example.com', 'v').input, /^server 2001:db8::53 5300\n/);
  });

  it('attack: a name or value carrying a newline, a quote or a space cannot add commands to the update', () => {
    const opts = { server: 'ns1.example.com', nsupdateBin: 'nsupdate' };
    for (const [name, value] of [
      ['_acme-challenge.example.com\nupdate delete example.com', 'v'],
      ['_acme-challenge.example.com', 'v"\nupdate add evil.example.com. 60 IN A 192.0.2.1'],
      ['_acme-challenge.example.com', 'a b'],
      ['-d.example.com ', 'v'],
    ] as const) {
      assert.throws(() => nsupdateCall(opts, 'add', name, value), (e: unknown) => isBerthError(e) && e.code === 'E_DNS_PROVIDER');
    }
    assert.throws(() => new Rfc2136Dns({ server: 'ns1.example.com\nsend', nsupdateBin: 'nsupdate' }), (e: unknown) => isBerthError(e) && e.code === 'E_CONFIG');
  });

  it("a refused update is E_DNS_PROVIDER with nsupdate's own words; a missing binary says what to install", async () => {
    process.env.FAIL = '1';
    try {
      await assert.rejects(runNsupdate({ bin: recorder, args: [], input: 'send\n' }), (e: unknown) => isBerthError(e) && e.code === 'E_DNS_PROVIDER' && /exit 2\): update failed: REFUSED/.test(e.message));
    } finally {
      delete process.env.FAIL;
    }
    await assert.rejects(runNsupdate({ bin: path.join(dir, 'missing'), args: [], input: '' }), (e: unknown) => isBerthError(e) && /bind9-dnsutils/.test(e.hint ?? ''));
  });
});
