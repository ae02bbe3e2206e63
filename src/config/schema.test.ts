import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { isBerthError } from '../errors.js';
import { loadConfig } from './load.js';
import { configSchema } from './schema.js';

const ok = (raw: Record<string, unknown>) => configSchema.parse(raw);
const bad = (raw: Record<string, unknown>): string[] => {
  const r = configSchema.safeParse(raw);
  assert.equal(r.success, false, `${JSON.stringify(raw)} should be refused`);
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('configSchema', () => {
  it('every default, exactly (loopback bind, no secrets, no accept-all)', () => {
    assert.deepEqual(ok({}), {
      port: 8995,
      host: '127.0.0.1',
      tls: 'off',
      hstsMaxAge: 0,
      acmeDirectoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
      acmeRenewDays: 30,
      acmeRenewFraction: 2 / 3,
      acmeCheckSeconds: 3600,
      acmeOnDemandPerHour: 20,
      acmeDnsWaitSeconds: 20,
      acmeCloudflareApiUrl: 'https://api.cloudflare.com/client/v4',
      acmeNsupdateBin: 'nsupdate',
      dataDir: './.berth',
      runtime: 'auto',
      portsPerWorkspace: 5,
      portRangeStart: 9000,
      portRangeEnd: 9999,
      containerPortBase: 8000,
      workspaceDataPath: '/workspace',
      defaultImage: 'docker.io/library/debian:bookworm-slim',
      trustedProxies: [],
      dnsServers: [],
      llmRateLimit: 0,
      reconcileInterval: 30,
      drainSeconds: 10,
      sessionIdleMinutes: 720,
      sessionMaxHours: 168,
      catalogDirs: [],
      infraPostgresImage: 'docker.io/library/postgres:16',
      infraRedisImage: 'docker.io/library/redis:7',
      podmanBin: 'podman',
      dockerBin: 'docker',
      processRuntimeMembers: 'refuse',
      workspaceIdleStop: null,
      idleSweepInterval: 30_000,
      previewRepos: [],
      previewAuthorAssociations: ['OWNER', 'MEMBER', 'COLLABORATOR'],
      previewAllowForks: false,
      githubApiUrl: 'https://api.github.com',
      allowFileRepos: false,
      previewReapInterval: 300,
      previewPostgresImage: 'docker.io/library/postgres:16',
    });
  });

  it('ports: 0 is "any" for the listener only; 1…65535 elsewhere; integers from env strings', () => {
    assert.equal(ok({ port: '0' }).port, 0);
    assert.equal(ok({ port: '65535' }).port, 65535);
    assert.equal(ok({ portRangeStart: '1', portRangeEnd: '65535', containerPortBase: 1 }).portRangeStart, 1);
    assert.equal(ok({ portRangeEnd: '65535' }).portRangeEnd, 65535);
    for (const raw of [{ port: -1 }, { port: 65536 }, { port: '1.5' }, { port: 'x' }, { portRangeStart: 0 }, { portRangeEnd: 65536 }, { containerPortBase: 0 }, { containerPortBase: 1.5 }]) bad(raw);
  });

  it('workspace data path: a safe absolute directory, refused otherwise with the reason', () => {
    assert.equal(ok({ workspaceDataPath: '/home/dev' }).workspaceDataPath, '/home/dev');
    for (const p of ['/', '/proc', '..', '-v', 'x:y', '/a/../b', '/data:ro']) {
      assert.match(bad({ workspaceDataPath: p }).join('\n'), /^workspaceDataPath: .*give an absolute directory/m, p);
    }
  });

  it('numeric limits at their edges', () => {
    assert.equal(ok({ portsPerWorkspace: '1' }).portsPerWorkspace, 1);
    assert.equal(ok({ portsPerWorkspace: 50 }).portsPerWorkspace, 50);
    assert.equal(ok({ reconcileInterval: 1, sessionIdleMinutes: 1, sessionMaxHours: 1, previewReapInterval: 1 }).reconcileInterval, 1);
    assert.equal(ok({ drainSeconds: '0' }).drainSeconds, 0);
    assert.equal(ok({ drainSeconds: '2.5' }).drainSeconds, 2.5);
    for (const raw of [
      { portsPerWorkspace: 0 }, { portsPerWorkspace: 51 }, { portsPerWorkspace: 2.5 },
      { reconcileInterval: 0 }, { reconcileInterval: 1.5 }, { drainSeconds: -1 },
      { sessionIdleMinutes: 0 }, { sessionIdleMinutes: 1.5 }, { sessionMaxHours: 0 }, { sessionMaxHours: 1.5 },
      { previewReapInterval: 0 }, { previewReapInterval: 1.5 },
    ]) bad(raw);
  });

  it('apps port, LLM rate limit and image references', () => {
    assert.equal(ok({ appsPort: '0' }).appsPort, 0);
    assert.equal(ok({ appsPort: 65535 }).appsPort, 65535);
    for (const raw of [{ appsPort: -1 }, { appsPort: 65536 }, { appsPort: 1.5 }, { llmRateLimit: -1 }, { llmRateLimit: 0.5 }]) bad(raw);
    assert.equal(ok({ llmRateLimit: '60' }).llmRateLimit, 60);
    assert.equal(ok({ appsUrl: 'https://apps.example.com/' }).appsUrl, 'https://apps.example.com');
    assert.equal(ok({ defaultImage: 'localhost/x:1' }).defaultImage, 'localhost/x:1');
    for (const field of ['defaultImage', 'infraPostgresImage', 'infraRedisImage', 'previewPostgresImage']) {
      const problems = bad({ [field]: '--privileged' });
      assert.equal(problems.length, 1, problems.join('; '));
      assert.match(problems[0]!, new RegExp(`^${field}: .*; give an image reference like docker\\.io/library/postgres:16$`));
    }
    // A custom issue, so load.ts lists it by the env name with this message (not zod's "Invalid input").
    const r = configSchema.safeParse({ defaultImage: '--privileged' });
    assert.deepEqual(
      r.error?.issues.map((i) => [i.code, i.path.join('.'), i.message]),
      [['custom', 'defaultImage', '"--privileged" must not start with "-" (it would read as an engine option); give an image reference like docker.io/library/postgres:16']],
    );
  });

  it('runtime is one of the known drivers; process-runtime members are refused unless allowed', () => {
    for (const r of ['auto', 'podman', 'docker', 'process']) assert.equal(ok({ runtime: r }).runtime, r);
    bad({ runtime: 'kubernetes' });
    assert.equal(ok({ processRuntimeMembers: 'allow' }).processRuntimeMembers, 'allow');
    assert.equal(ok({ processRuntimeMembers: 'refuse' }).processRuntimeMembers, 'refuse', 'the default can also be set explicitly');
    bad({ processRuntimeMembers: 'yes' });
  });

  it('comma-separated lists: trimmed, blanks dropped; arrays from code kept', () => {
    assert.deepEqual(ok({ trustedProxies: ' 10.0.0.0/8, ,192.168.0.0/16 ,' }).trustedProxies, ['10.0.0.0/8', '192.168.0.0/16']);
    assert.deepEqual(ok({ catalogDirs: ['/a', ' b '] }).catalogDirs, ['/a', ' b ']);
    assert.deepEqual(ok({ previewAuthorAssociations: 'OWNER' }).previewAuthorAssociations, ['OWNER']);
    assert.deepEqual(ok({ dnsServers: '' }).dnsServers, []);
  });

  it('domains: DNS names with a dot, lowercased, optional :port; anything else refused with the hint', () => {
    assert.equal(ok({ appsDomain: 'Apps.Example.COM' }).appsDomain, 'apps.example.com');
    assert.equal(ok({ previewDomain: 'pr.example.com:8443' }).previewDomain, 'pr.example.com:8443');
    assert.equal(ok({ appsDomain: 'a-b.c1' }).appsDomain, 'a-b.c1');
    // One-character labels, first and later ones (x.y.example.com is a valid DNS name).
    assert.equal(ok({ appsDomain: 'a.b.example.com' }).appsDomain, 'a.b.example.com');
    assert.equal(ok({ previewDomain: 'x.y' }).previewDomain, 'x.y');
    for (const d of ['localhost', '-a.example.com', 'a-.example.com', 'a..b', 'a.example.com:', 'a.example.com:x', 'a_b.example.com', 'a.example.com/x', ' a.example.com', 'http://a.example.com']) {
      assert.deepEqual(bad({ appsDomain: d }), ['appsDomain: must be a DNS name like apps.example.com'], d);
    }
  });

  it('URLs: validated, trailing slashes dropped', () => {
    assert.equal(ok({ publicUrl: 'https://berth.example.com//' }).publicUrl, 'https://berth.example.com');
    assert.equal(ok({ llmBaseUrl: 'http://127.0.0.1:11434/v1/' }).llmBaseUrl, 'http://127.0.0.1:11434/v1');
    assert.equal(ok({ githubApiUrl: 'https://ghe.example.com/api/v3/' }).githubApiUrl, 'https://ghe.example.com/api/v3');
    assert.equal(ok({ githubApiUrl: 'https://ghe.example.com/api/v3///' }).githubApiUrl, 'https://ghe.example.com/api/v3', 'every trailing slash');
    bad({ publicUrl: 'berth.example.com' });
    bad({ githubApiUrl: 'not a url' });
  });

  it('secrets and connection URLs', () => {
    assert.equal(ok({ adminPassword: '0123456789' }).adminPassword, '0123456789');
    assert.deepEqual(bad({ adminPassword: '012345678' }), ['adminPassword: must be at least 10 characters']);
    assert.equal(ok({ postgresUrl: 'postgresql://u@h/db' }).postgresUrl, 'postgresql://u@h/db');
    assert.equal(ok({ postgresUrl: 'postgres://u@h/db' }).postgresUrl, 'postgres://u@h/db');
    assert.deepEqual(bad({ postgresUrl: 'mysql://u@h/db' }), ['postgresUrl: must be a postgres:// URL']);
    assert.deepEqual(bad({ postgresUrl: 'x postgres://u@h' }), ['postgresUrl: must be a postgres:// URL']);
    assert.equal(ok({ redisUrl: 'rediss://:p@h:6380' }).redisUrl, 'rediss://:p@h:6380');
    assert.equal(ok({ redisUrl: 'redis://h:6379' }).redisUrl, 'redis://h:6379');
    assert.deepEqual(bad({ redisUrl: 'http://h:6379' }), ['redisUrl: must be a redis:// URL']);
    assert.deepEqual(bad({ redisUrl: 'x redis://h' }), ['redisUrl: must be a redis:// URL']);
    bad({ infraHost: '' });
    bad({ infraPostgresImage: '' });
    bad({ infraRedisImage: '' });
    bad({ previewPostgresImage: '' });
    bad({ defaultImage: '' });
  });

  it('boolean switches from env strings: only 1/true are on', () => {
    for (const [v, want] of [['1', true], ['true', true], ['0', false], ['false', false], [true, true], [false, false]] as const) {
      assert.equal(ok({ previewAllowForks: v }).previewAllowForks, want, String(v));
      assert.equal(ok({ allowFileRepos: v }).allowFileRepos, want, String(v));
    }
    bad({ allowFileRepos: 'yes' });
    bad({ previewAllowForks: 'on' });
  });
});

describe('loadConfig', () => {
  it('reads BERTH_* by camel-cased name, ignores empty and unknown ones, resolves dataDir, freezes', () => {
    const cfg = loadConfig({ BERTH_PORT_RANGE_START: '9100', BERTH_PORT_RANGE_END: '9200', BERTH_HOST: '', BERTH_NOT_A_SETTING: 'x', PORT: '1', BERTH_DATA_DIR: 'rel/dir' });
    assert.equal(cfg.portRangeStart, 9100);
    assert.equal(cfg.portRangeEnd, 9200);
    assert.equal(cfg.host, '127.0.0.1');
    assert.equal(cfg.port, 8995);
    assert.equal(cfg.dataDir, path.resolve('rel/dir'));
    assert.ok(Object.isFrozen(cfg));
    assert.equal(loadConfig({}, { port: 0 }).port, 0, 'overrides win');
  });

  it('every invalid value is listed by its env name in one E_CONFIG', () => {
    try {
      loadConfig({ BERTH_PORT: 'x', BERTH_APPS_DOMAIN: 'nodots' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(isBerthError(err) && err.code === 'E_CONFIG', String(err));
      assert.match(err.message, /^invalid configuration: BERTH_PORT: .+; BERTH_APPS_DOMAIN: must be a DNS name like apps\.example\.com$/);
      assert.equal(err.hint, 'fix the listed BERTH_* environment variables and start again');
    }
  });

  it('a port range must leave room for one workspace', () => {
    assert.equal(loadConfig({ BERTH_PORT_RANGE_START: '9000', BERTH_PORT_RANGE_END: '9004' }).portRangeEnd, 9004);
    try {
      loadConfig({ BERTH_PORT_RANGE_START: '9000', BERTH_PORT_RANGE_END: '9003' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(isBerthError(err) && err.code === 'E_CONFIG', String(err));
      assert.equal(err.message, 'BERTH_PORT_RANGE_END must leave room for at least one workspace');
      assert.equal(err.hint, 'set BERTH_PORT_RANGE_END ≥ 9004');
    }
  });
});

test('idle stop settings: durations to ms, off/0 to null, anything else refused', () => {
  const parse = (v: Record<string, unknown>) => configSchema.safeParse(v);
  assert.equal(parse({ workspaceIdleStop: '2h' }).data?.workspaceIdleStop, 7_200_000);
  assert.equal(parse({ workspaceIdleStop: 'off' }).data?.workspaceIdleStop, null);
  assert.equal(parse({ workspaceIdleStop: '0' }).data?.workspaceIdleStop, null);
  assert.equal(parse({ idleSweepInterval: '150ms' }).data?.idleSweepInterval, 150);
  for (const bad of ['2 hours', '-1h', '']) assert.equal(parse({ workspaceIdleStop: bad }).success, false, bad);
  assert.equal(parse({ idleSweepInterval: 'off' }).success, false, 'the sweep cannot be turned off (the per-workspace setting is the switch)');
});
