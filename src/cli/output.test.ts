import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from './client.js';
import { formatAgo, formatDuration, formatError, formatPortRange, formatTable, withProgress, type OutStream } from './output.js';

function sink(isTTY: boolean): OutStream & { text: string } {
  const s = { text: '', isTTY, write: (c: string) => (s.text += c) };
  return s;
}

test('formatTable pads every column but the last and has no trailing blanks', () => {
  const out = formatTable(['NAME', 'ID', 'STATE'], [['dev', 'abc', 'running'], ['a-longer-name', 'def', '']]);
  assert.equal(out, 'NAME           ID   STATE\ndev            abc  running\na-longer-name  def\n');
});

test('formatPortRange shows first-last, a single port, or a dash', () => {
  assert.equal(formatPortRange([9002, 9000, 9004]), '9000-9004');
  assert.equal(formatPortRange([9000]), '9000');
  assert.equal(formatPortRange([]), '-');
});

test('formatDuration and formatAgo are compact', () => {
  assert.equal(formatDuration(42.9), '42s');
  assert.equal(formatDuration(300), '5m');
  assert.equal(formatDuration(3 * 3600 + 12 * 60), '3h 12m');
  assert.equal(formatDuration(2 * 86400), '2d');
  const now = Date.parse('2025-01-01T12:00:00Z');
  assert.equal(formatAgo('2025-01-01T11:55:00Z', now), '5m ago');
  assert.equal(formatAgo('2025-01-01T11:59:58Z', now), 'just now');
  assert.equal(formatAgo('not a date', now), 'not a date');
});

test('formatError prints code, message and hint on its own line', () => {
  const err = new CliError('workspace "x" already exists', { code: 'E_NAME_TAKEN', hint: 'pick another name' });
  assert.equal(formatError(err), 'error E_NAME_TAKEN: workspace "x" already exists\n  hint: pick another name\n');
  assert.equal(formatError(new CliError('boom')), 'error: boom\n');
  const berthLike = Object.assign(new Error('bad config'), { code: 'E_CONFIG', hint: 'fix it' });
  assert.equal(formatError(berthLike), 'error E_CONFIG: bad config\n  hint: fix it\n');
  assert.equal(formatError(Object.assign(new Error('x'), { code: 'ENOENT' })), 'error: x\n');
});

test('withProgress shows nothing for fast work', async () => {
  const s = sink(true);
  assert.equal(await withProgress('fast', async () => 7, { stream: s, delayMs: 50 }), 7);
  assert.equal(s.text, '');
});

test('withProgress prints exactly one line when stderr is not a TTY', async () => {
  const s = sink(false);
  await withProgress('creating workspace dev', async (p) => {
    await new Promise((r) => setTimeout(r, 60));
    p.update('waiting');
    await new Promise((r) => setTimeout(r, 30));
  }, { stream: s, delayMs: 20, intervalMs: 5 });
  assert.equal(s.text, 'creating workspace dev…\n');
});

test('withProgress animates on a TTY and erases its line, also when the work fails', async () => {
  const s = sink(true);
  await assert.rejects(
    withProgress('removing', async (p) => {
      await new Promise((r) => setTimeout(r, 80));
      p.update('still removing');
      throw new Error('nope');
    }, { stream: s, delayMs: 10, intervalMs: 10 }),
    /nope/,
  );
  assert.match(s.text, /^\r\x1b\[2K. removing…/);
  assert.ok(s.text.includes('still removing…'));
  assert.ok(s.text.endsWith('\r\x1b[2K'));
  assert.ok((s.text.match(/removing…/g) ?? []).length > 2, 'the spinner redraws');
});
