// The dashboard terminal's side of the exec protocol (web/src/lib/exec-protocol.ts): the connect
// path, control messages and the reconnect schedule. Pure functions: node runs them directly,
// and the server parses what they produce with its own code (the CLI and the browser must agree).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execPath, exitCodeOf, reconnectDelay, resizeMessage } from '../../web/src/lib/exec-protocol.js';
import { execQuery, parseControl } from '../../src/cli/shell.js';
import { clampSize } from '../../src/runtime/pty.js';

describe('exec protocol (dashboard side)', () => {
  it('the connect path carries tty, the size and argv, like the CLI, and names the workspace safely', () => {
    const p = execPath('ab/c?d', { cols: 132, rows: 43 });
    assert.ok(p.startsWith('api/workspaces/ab%2Fc%3Fd/exec?'), p);
    const q = new URLSearchParams(p.slice(p.indexOf('?') + 1));
    assert.deepEqual([q.get('tty'), q.get('cols'), q.get('rows'), q.getAll('cmd')], ['1', '132', '43', ['/bin/sh']]);
    assert.equal(q.toString(), new URLSearchParams(execQuery(['/bin/sh'], true, { cols: 132, rows: 43 })).toString());
    assert.deepEqual(clampSize(q.get('cols'), q.get('rows')), { cols: 132, rows: 43 });
  });

  it('resize messages are the ones the server reads; exit messages are read like the CLI reads them', () => {
    assert.deepEqual(JSON.parse(resizeMessage({ cols: 90, rows: 20 })), { type: 'resize', cols: 90, rows: 20 });
    for (const text of ['{"type":"exit","code":3}', '{"type":"exit"}', '{"type":"resize"}', 'nope', 'null', '[]', '{"type":"exit","code":"7"}']) {
      assert.equal(exitCodeOf(text), parseControl(text)?.code, text);
    }
  });

  it('reconnects with backoff for about 40 s, then stops', () => {
    const delays = Array.from({ length: 12 }, (_, i) => reconnectDelay(i + 1));
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000, 5000, 5000, 5000, undefined, undefined]);
    assert.equal(reconnectDelay(0), undefined);
    assert.equal(reconnectDelay(1.5), undefined);
  });
});
