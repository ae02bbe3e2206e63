import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Route } from '../domain/route.js';
import { renderWakePage, wakeUrl } from './wake-page.js';

const route = { kind: 'workspace', workloadId: 'abc123', workloadName: 'nb', via: 'path', access: null } as unknown as Route;
const info = { canStart: true, reason: 'idle-stopped: <b>x</b> "y"', dashboardUrl: 'http://127.0.0.1:8995' };

test('the wake page escapes what it shows: the asked-for URL (attacker-chosen path) and the reason', () => {
  const here = `http://127.0.0.1:8996/hosted/abc123/9000/"><script>alert(1)</script>'`;
  const html = renderWakePage(route, info, here);
  assert.doesNotMatch(html, /<script>|<b>/);
  assert.match(html, /idle-stopped: &#60;b&#62;x&#60;\/b&#62; &#34;y&#34;/);
  const href = /id="berth-start" href="([^"]*)"/.exec(html)![1]!.replace(/&#38;/g, '&').replace(/&#39;/g, "'");
  assert.equal(href, wakeUrl(info, here));
  assert.equal(new URL(href).searchParams.get('to'), here, 'the URL survives the round trip');
});

test('only its owner (and admins) get the Start button; others are pointed to the owner', () => {
  const html = renderWakePage(route, { ...info, canStart: false }, 'http://127.0.0.1:8996/hosted/abc123/9000/');
  assert.doesNotMatch(html, /berth-start"/);
  assert.match(html, /Ask its owner to start it/);
  assert.match(html, /id="berth-owner-start" href="http:\/\/127\.0\.0\.1:8995\/api\/wake\?to=/);
});
