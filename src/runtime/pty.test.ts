import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import type { ExecSession } from './runtime.js';
import { clampSize, commandOnPty, endedSession, isExecutable, ptySession, TERM_NAME } from './pty.js';

/** Resolves with the output once `pattern` shows up in it (or rejects after `ms`). */
function waitFor(out: Readable, pattern: RegExp, ms = 5_000): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(text)}`)), ms);
    const onData = (d: Buffer): void => {
      text += d.toString('utf8');
      if (pattern.test(text)) {
        clearTimeout(timer);
        out.off('data', onData);
        resolve(text);
      }
    };
    out.on('data', onData);
  });
}

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

// A failed assertion must not leave a shell on a PTY behind (it would keep the test process alive).
const open: ExecSession[] = [];
function session(file: string, args: string[], opts: Parameters<typeof ptySession>[2]): ExecSession {
  const s = ptySession(file, args, opts);
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) s.close!();
});

describe('clampSize', () => {
  it('keeps sane sizes, clamps extremes and defaults anything that is not a number', () => {
    assert.deepEqual(clampSize(120, 40), { cols: 120, rows: 40 });
    assert.deepEqual(clampSize('132', '43'), { cols: 132, rows: 43 });
    assert.deepEqual(clampSize(0, -5), { cols: 1, rows: 1 });
    assert.deepEqual(clampSize(1e9, 1e9), { cols: 1000, rows: 500 });
    assert.deepEqual(clampSize(null, undefined), { cols: 80, rows: 24 });
    assert.deepEqual(clampSize('12x', '1e3'), { cols: 80, rows: 24 });
    assert.deepEqual(clampSize(NaN, Infinity), { cols: 80, rows: 24 });
    assert.deepEqual(clampSize(80.7, 24.2), { cols: 80, rows: 24 });
  });
});

describe('ptySession on a host PTY', () => {
  it('starts at the given size, follows a resize (SIGWINCH), sets TERM and passes the exit code', async () => {
    const s = session('sh', [], { env, cols: 100, rows: 30 });
    s.stdout.on('data', () => {});
    s.stdin.write('echo "size=$(stty size) term=$TERM"\n');
    const first = await waitFor(s.stdout, /size=\d+ \d+ term=\S+/);
    assert.match(first, new RegExp(`size=30 100 term=${TERM_NAME}`));
    // The shell waits on a trap for SIGWINCH: the program itself sees the resize.
    s.stdin.write("trap 'echo winch=$(stty size)' WINCH; echo armed\n");
    await waitFor(s.stdout, /^armed\r?$/m);
    s.resize!(120, 40);
    s.stdin.write('sleep 0.2; echo done\n');
    assert.match(await waitFor(s.stdout, /^done\r?$/m), /winch=40 120/);
    s.stdin.write('exit 7\n');
    assert.equal(await s.wait(), 7);
  });

  it('a burst of resizes ends at the last size', async () => {
    const s = session('sh', [], { env, cols: 80, rows: 24 });
    s.stdout.on('data', () => {});
    for (const [c, r] of [[90, 20], [91, 21], [92, 22], [93, 23]] as const) s.resize!(c, r);
    await new Promise((r) => setTimeout(r, 100));
    s.stdin.write('echo "size=$(stty size)"\n');
    assert.match(await waitFor(s.stdout, /size=\d+ \d+/), /size=23 93/);
    s.stdin.write('exit\n');
    assert.equal(await s.wait(), 0);
  });

  it('ends a line-reading program with Ctrl-D when stdin ends', async () => {
    const s = session('cat', [], { env });
    const out = waitFor(s.stdout, /héllo[\s\S]*héllo/);
    s.stdin.end(Buffer.from('héllo\n'));
    await out;
    assert.equal(await s.wait(), 0);
  });

  it('hangs up on close: SIGHUP, exit 129', async () => {
    const s = session('sleep', ['30'], { env });
    s.stdout.resume();
    s.close!();
    assert.equal(await s.wait(), 129);
    s.resize!(10, 10); // after the end: a no-op, not a throw
  });
});

describe('endedSession and isExecutable', () => {
  it('an ended session shows its message and exits with its code', async () => {
    const s = endedSession('nope: not found\r\n', 127);
    const chunks: Buffer[] = [];
    for await (const c of s.stdout) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'nope: not found\r\n');
    assert.equal(await s.wait(), 127);
  });

  it('commandOnPty: a missing program is 127 with its name on the terminal', async () => {
    const s = await commandOnPty('no-such-program-berth', [], { cwd: tmpdir(), env });
    const chunks: Buffer[] = [];
    for await (const c of s.stdout) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'no-such-program-berth: not found\r\n');
    assert.equal(await s.wait(), 127);
  });

  it('finds programs on PATH and by path, not directories or missing files', async () => {
    assert.equal(await isExecutable('sh', env.PATH, tmpdir()), true);
    assert.equal(await isExecutable('/bin/sh', undefined, tmpdir()), true);
    assert.equal(await isExecutable('no-such-program-berth', env.PATH, tmpdir()), false);
    assert.equal(await isExecutable('/bin', env.PATH, tmpdir()), false);
    assert.equal(await isExecutable('sh', undefined, tmpdir()), false);
  });
});
