/**
 * Raw HTTP helpers for the two origins of a test daemon: the dashboard (`daemon.url`) and the apps
 * origin (`daemon.appsUrl`), with full control over Host, Cookie and Origin (fetch forbids them),
 * plus the browser's sign-in dance for private hosted apps (the one-time hand-off).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { TestDaemon } from './daemon.js';

export interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to `baseUrl`'s port (a full URL, e.g. daemon.url or daemon.appsUrl). */
export function rawAt(baseUrl: string, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, headers, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A dashboard session: its cookie and CSRF token. */
export interface Session {
  cookie: string;
  csrf: string;
}

export async function login(t: TestDaemon, username: string, password: string): Promise<Session> {
  const res = await fetch(`${t.daemon.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(res.status, 200, `login of ${username}`);
  const body = (await res.json()) as { csrfToken: string };
  return { cookie: res.headers.get('set-cookie')!.split(';')[0]!, csrf: body.csrfToken };
}

/**
 * What a browser does to open a private path route: the apps origin sends it to the dashboard's
 * hand-off, which (with the dashboard session) sends it back with a one-time ticket, traded for
 * an apps-origin session cookie. Returns that cookie (`berth_app_session=…`).
 */
export async function appsSession(t: TestDaemon, dashboard: Session, urlPath: string): Promise<string> {
  const refused = await rawAt(t.daemon.appsUrl, urlPath, { accept: 'text/html' });
  assert.equal(refused.status, 302, `the apps origin sends a browser to sign in (${refused.status} ${refused.body})`);
  const handoff = new URL(refused.headers.location!);
  assert.equal(handoff.origin, new URL(t.daemon.url).origin);
  const minted = await rawAt(t.daemon.url, handoff.pathname + handoff.search, { cookie: dashboard.cookie });
  assert.equal(minted.status, 302, `the hand-off mints a ticket (${minted.status} ${minted.body})`);
  const ticketUrl = new URL(minted.headers.location!);
  assert.equal(ticketUrl.origin, new URL(t.daemon.appsUrl).origin, 'the ticket goes to the apps origin');
  const redeemed = await rawAt(t.daemon.appsUrl, ticketUrl.pathname + ticketUrl.search);
  assert.equal(redeemed.status, 302);
  assert.equal(redeemed.headers.location, urlPath);
  const cookie = String(redeemed.headers['set-cookie']).split(';')[0]!;
  assert.match(cookie, /^berth_app_session=/);
  return cookie;
}
