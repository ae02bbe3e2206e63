import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors.js';
import { appLocation, checkAppName } from './app.js';

const hosting = { proto: 'https' as const, host: 'berth.example.com', basePath: '/outer' };

test('appLocation: a sub-path app lives under /embed/{app} of the access point, outer prefix included', () => {
  assert.deepEqual(appLocation('gitea', { subpath: true }, hosting, 'apps.example.com'), {
    url: 'https://berth.example.com/outer/embed/gitea',
    basePath: '/outer/embed/gitea',
    origin: 'https://berth.example.com',
    via: 'path',
  });
  assert.equal(appLocation('gitea', { subpath: true }, { ...hosting, basePath: '' }).basePath, '/embed/gitea');
});

test('appLocation: an app that cannot live under a sub-path gets {app}.{appsDomain}, or a clear refusal', () => {
  assert.deepEqual(appLocation('uptime-kuma', { subpath: false }, hosting, 'apps.example.com'), {
    url: 'https://uptime-kuma.apps.example.com',
    basePath: '',
    origin: 'https://uptime-kuma.apps.example.com',
    via: 'host',
  });
  assert.throws(
    () => appLocation('uptime-kuma', { subpath: false }, hosting, undefined),
    (e) => isBerthError(e) && e.code === 'E_APP_NEEDS_DOMAIN' && /BERTH_APPS_DOMAIN/.test(e.hint ?? ''),
  );
});

test('checkAppName: no double dashes or leading digits, so app and workspace subdomains never collide', () => {
  for (const ok of ['gitea', 'uptime-kuma', 'paperless-ngx', 'a1', 'x']) assert.equal(checkAppName(ok), null, ok);
  for (const bad of ['', 'Gitea', '9000--abc', 'a--b', '-a', 'a-', '1app', 'a_b', 'a'.repeat(41)]) assert.notEqual(checkAppName(bad), null, bad);
});
