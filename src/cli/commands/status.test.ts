import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCertificates, formatStatus, type StatusAnswer } from './status.js';

const status: StatusAnswer = {
  runtime: 'podman',
  runtimeReason: 'found podman 5.4',
  version: '0.1.0',
  uptimeSeconds: 60,
  workspaces: { creating: 0, running: 1, stopped: 0, failed: 0 },
  ports: { used: 5, total: 1000 },
};

describe('berth status: TLS certificates', () => {
  it('one line per certificate with its expiry, and why its last update failed', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    assert.deepEqual(
      formatCertificates([
        { source: 'acme:berth.example.com', names: ['berth.example.com'], notAfter: '2027-02-01T00:00:00.000Z', error: null },
        { source: 'acme:*.apps.example.com', names: ['*.apps.example.com'], notAfter: '2026-12-20T00:00:00.000Z', error: 'the CA could not validate *.apps.example.com (dns-01): NXDOMAIN' },
        { source: 'acme:1--x.apps.example.com', names: [], notAfter: null, error: 'rate limited' },
      ], now),
      [
        'berth.example.com: expires 2027-02-01 (in 62 days)',
        '*.apps.example.com: expires 2026-12-20 (in 19 days); last update FAILED: the CA could not validate *.apps.example.com (dns-01): NXDOMAIN',
        '1--x.apps.example.com: no certificate yet; last update FAILED: rate limited',
      ],
    );
  });

  it('shows a tls block only when TLS is on (older daemons send none)', () => {
    assert.doesNotMatch(formatStatus('http://x', { status: 'ok' }, status), /tls/);
    assert.doesNotMatch(formatStatus('http://x', { status: 'ok' }, { ...status, tls: { mode: 'off', certificates: [] } }), /tls/);
    const text = formatStatus('https://x', { status: 'ok' }, { ...status, tls: { mode: 'acme', certificates: [{ source: 'acme:a.example.com', names: ['a.example.com'], notAfter: null, error: 'boom' }] } });
    assert.match(text, /^tls +acme$/m);
    assert.match(text, /^ +a\.example\.com: no certificate yet; last update FAILED: boom$/m);
  });
});
