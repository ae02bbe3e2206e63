/** The unit and settings file `berth service install` writes, checked line by line. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderEnvFile, renderUnit, unitPathProblem } from './systemd-unit.js';

const base = { node: '/usr/bin/node', root: '/opt/berth', envFile: '/etc/berth/berth.env', user: null, dataDir: '/var/lib/berth', drainSeconds: 10 };

describe('renderUnit', () => {
  it('container runtimes: KillMode=process, no inherited sandbox, root by default', () => {
    const u = renderUnit({ ...base, runtime: 'auto' });
    assert.match(u, /^ExecStart=\/usr\/bin\/node \/opt\/berth\/dist\/cli\/index\.js up$/m);
    assert.match(u, /^KillMode=process$/m);
    assert.match(u, /^TimeoutStopSec=25s$/m);
    assert.match(u, /^EnvironmentFile=\/etc\/berth\/berth\.env$/m);
    assert.doesNotMatch(u, /^User=/m);
    assert.doesNotMatch(u, /^(NoNewPrivileges|ProtectSystem|PrivateTmp)=/m);
  });
  it('the process runtime gets the sandbox with its data dir writable; a user is set when given', () => {
    const u = renderUnit({ ...base, runtime: 'process', user: 'berth' });
    assert.match(u, /^User=berth$/m);
    assert.match(u, /^NoNewPrivileges=yes$/m);
    assert.match(u, /^ProtectSystem=full$/m);
    assert.match(u, /^ReadWritePaths=\/var\/lib\/berth$/m);
  });
});

describe('renderEnvFile', () => {
  it('keeps only BERTH_* variables, sorted, quoted with backslash escapes', () => {
    const text = renderEnvFile({ PATH: '/bin', BERTH_PORT: '443', BERTH_ADMIN_PASSWORD: 'a "b" \\ c\nd', berth_lower: 'x' });
    assert.deepEqual(text.split('\n').filter((l) => !l.startsWith('#') && l), ['BERTH_ADMIN_PASSWORD="a \\"b\\" \\\\ c\\nd"', 'BERTH_PORT="443"']);
  });
});

describe('unitPathProblem', () => {
  it('refuses what systemd would interpret', () => {
    assert.equal(unitPathProblem('/var/lib/berth'), null);
    assert.match(unitPathProblem('relative')!, /not an absolute path/);
    for (const bad of ['/a b', '/a%h', '/a$X', '/a"b', "/a'b", '/a;b', '/a\\b']) assert.ok(unitPathProblem(bad), bad);
  });
});
