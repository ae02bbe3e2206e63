import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatWorkspace, type ApiWorkspace } from './ws.js';
import { parseShareLevel } from './ws-idle.js';

const now = Date.parse('2025-01-01T12:00:00Z');
const ws: ApiWorkspace = {
  id: 'abcdefghijkl',
  name: 'dev',
  state: 'running',
  reason: null,
  image: 'localhost/base',
  command: null,
  env: {},
  ports: [],
  exitCode: null,
  createdAt: '2025-01-01T11:00:00Z',
  updatedAt: '2025-01-01T11:00:00Z',
  visibility: 'authenticated',
  idle: {
    idleStop: '2h',
    idleStopMs: 7_200_000,
    lastActiveAt: '2025-01-01T11:48:00Z',
    lastActiveReason: 'WebSocket on 9000',
    openSessions: 0,
    idleStopAt: '2025-01-01T13:48:00Z',
  },
};

test('ws show says who may open it, when it was last active and why, and when it will stop', () => {
  const out = formatWorkspace(ws, now);
  assert.match(out, /^shared       authenticated \(any signed-in Berth user\)$/m);
  assert.match(out, /^last active  12m ago: WebSocket on 9000$/m);
  assert.match(out, /^idle stop    after 2h idle: stops in 1h 48m if idle$/m);
});

test('ws show: an open shell holds it, a stopped one has no stop time, off is off', () => {
  const held = formatWorkspace({ ...ws, idle: { ...ws.idle!, openSessions: 1, lastActiveAt: '2025-01-01T12:00:00Z', lastActiveReason: 'exec session' } }, now);
  assert.match(held, /^last active  just now: exec session \(1 open\)$/m);
  assert.match(held, /not while a session is open/);
  const stopped = formatWorkspace({ ...ws, state: 'stopped', reason: 'idle-stopped: no activity for 2h', idle: { ...ws.idle!, idleStopAt: null } }, now);
  assert.match(stopped, /^reason       idle-stopped: no activity for 2h$/m);
  assert.match(stopped, /^idle stop    after 2h idle$/m);
  const off = formatWorkspace({ ...ws, idle: { ...ws.idle!, idleStop: null, idleStopMs: null, idleStopAt: null, lastActiveAt: null, lastActiveReason: null } }, now);
  assert.match(off, /^idle stop    off$/m);
  assert.match(off, /^last active  no activity recorded$/m);
});

test('share levels: the three, anything else refused with the choices', () => {
  for (const l of ['private', 'authenticated', 'public']) assert.equal(parseShareLevel(l), l);
  assert.throws(() => parseShareLevel('friends'), (e: Error & { hint?: string }) => /friends/.test(e.message) && /private, authenticated, public/.test(e.hint ?? ''));
});
