// The helper run by a real /bin/sh (and busybox sh when present), as workloads run it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BERTH_URL_SCRIPT } from './berth-url.js';

const ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  PORT: '8000',
  BERTH_PORT_MAPPINGS: '8000:9000,8001:9001',
  BERTH_HOSTING_PROTO: 'https',
  BERTH_HOSTING_HOSTNAME: 'apps.example.com',
  BERTH_HOSTING_BASE_PATH: '/berth',
  BERTH_WORKSPACE_ID: 'w1',
};

const shells = [['/bin/sh'], ...(spawnSync('busybox', ['true']).status === 0 ? [['busybox', 'sh']] : [])];

describe('berth-url', () => {
  let dir: string;
  let script: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-url-'));
    script = path.join(dir, 'berth-url');
    writeFileSync(script, BERTH_URL_SCRIPT, { mode: 0o755 });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const sh of shells) {
    const run = (...args: string[]) => spawnSync(sh[0]!, [...sh.slice(1), script, ...args], { env: ENV, encoding: 'utf8' });
    it(`${sh.join(' ')}: URL and base path of a port, $PORT by default`, () => {
      assert.equal(run().stdout, 'https://apps.example.com/berth/hosted/w1/9000/\n');
      assert.equal(run('8001').stdout, 'https://apps.example.com/berth/hosted/w1/9001/\n');
      assert.equal(run('--base-path', '8001').stdout, '/berth/hosted/w1/9001/\n');
      assert.equal(run('-b').stdout, '/berth/hosted/w1/9000/\n');
      assert.match(run('--help').stdout, /usage: berth-url \[--base-path\]/);
    });
    it(`${sh.join(' ')}: refuses a port that is not the workspace's, and a non-number`, () => {
      const other = run('--base-path', '9000');
      assert.equal(other.status, 1);
      assert.match(other.stderr, /port 9000 is not one of this workspace's ports/);
      assert.equal(run('-b', '80; id').status, 2);
      assert.equal(run('--base-path', '').stdout, '/berth/hosted/w1/9000/\n', 'an empty argument means $PORT');
    });
  }

  it('is valid POSIX sh (sh -n)', () => {
    execFileSync('/bin/sh', ['-n', script]);
  });
});
