import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatWorkspace, formatWorkspaceTable, type ApiWorkspace } from './ws.js';

const now = Date.parse('2025-01-01T12:00:00Z');
const ws: ApiWorkspace = {
  id: 'abcdefghijkl',
  name: 'dev',
  state: 'running',
  reason: null,
  image: 'localhost/base',
  command: ['node', '-e', "console.log('hi')"],
  env: { B: '2', A: '1' },
  ports: [
    { containerPort: 8000, hostPort: 9000, url: 'http://127.0.0.1:8995/hosted/abcdefghijkl/9000/' },
    { containerPort: 8001, hostPort: 9001, url: 'http://127.0.0.1:8995/hosted/abcdefghijkl/9001/' },
  ],
  exitCode: null,
  createdAt: '2025-01-01T11:00:00Z',
  updatedAt: '2025-01-01T11:00:00Z',
};

test('formatWorkspaceTable lists NAME ID STATE PORTS CREATED', () => {
  assert.equal(
    formatWorkspaceTable([ws], now),
    'NAME  ID            STATE    PORTS      CREATED\ndev   abcdefghijkl  running  9000-9001  1h ago\n',
  );
  assert.match(formatWorkspaceTable([], now), /no workspaces yet/);
});

test('formatWorkspace shows each port with its URL, sorted env and a quoted command', () => {
  const out = formatWorkspace(ws, now);
  assert.match(out, /^name     dev$/m);
  assert.match(out, /^state    running$/m);
  assert.match(out, /^command  node -e 'console\.log\('\\''hi'\\''\)'$/m);
  assert.match(out, /^env      A=1\n         B=2$/m);
  assert.match(out, /^ports    8000 → http:\/\/127\.0\.0\.1:8995\/hosted\/abcdefghijkl\/9000\/\n         8001 → .*9001\/$/m);
  assert.doesNotMatch(out, /^updated/m);
});

test('formatWorkspace shows the reason and exit code of a failed workspace', () => {
  const out = formatWorkspace({ ...ws, state: 'failed', reason: 'exited with code 3', exitCode: 3, ports: [] }, now);
  assert.match(out, /^state    failed \(exit code 3\)$/m);
  assert.match(out, /^reason   exited with code 3$/m);
  assert.match(out, /^ports    -$/m);
});

test('formatWorkspace shows where the data volume is, or that there is none', () => {
  assert.match(formatWorkspace({ ...ws, dataVolume: 'berth-a-ws-abcdefghijkl-data', dataPath: '/workspace' }, now), /^data     \/workspace \(volume berth-a-ws-abcdefghijkl-data\)$/m);
  assert.match(formatWorkspace(ws, now), /^data     none \(files are lost on recreate\)$/m);
});
