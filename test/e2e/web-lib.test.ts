// Unit tests of the dashboard's pure helpers (web/src/lib): command splitting, env lines, the
// shell pane's output cleanup and the NDJSON reader of app installs. They have no DOM, so node
// runs them directly.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { joinArgs, parseEnv, splitArgs } from '../../web/src/lib/args.js';
import { appendOutput, stripEscapes } from '../../web/src/lib/term.js';
import { NdjsonDecoder, readNdjson } from '../../web/src/lib/ndjson.js';

describe('splitArgs', () => {
  const cases: [string, string[]][] = [
    ['', []],
    ['   ', []],
    ['python3 -m http.server 8000', ['python3', '-m', 'http.server', '8000']],
    ['  a   b  ', ['a', 'b']],
    [`node -e "console.log('hi there')"`, ['node', '-e', "console.log('hi there')"]],
    [`sh -c 'echo "$HOME" && ls'`, ['sh', '-c', 'echo "$HOME" && ls']],
    [`echo "a \\"quoted\\" \\$x \\n"`, ['echo', 'a "quoted" $x \\n']],
    [`a\\ b c`, ['a b', 'c']],
    [`''`, ['']],
    [`x""y`, ['xy']],
    [`pre'fix'"ed"`, ['prefixed']],
  ];
  for (const [line, argv] of cases) {
    it(`splits ${JSON.stringify(line)}`, () => assert.deepEqual(splitArgs(line), argv));
  }
  it('refuses unclosed quotes', () => {
    assert.throws(() => splitArgs(`echo 'oops`), /unclosed single quote/);
    assert.throws(() => splitArgs(`echo "oops`), /unclosed double quote/);
  });
  it('joinArgs is its inverse', () => {
    for (const argv of [['a', 'b c'], ['node', '-e', "require('x')"], [''], ['$HOME', 'a"b', "it's"], ['plain/path.txt', 'k=v']]) {
      assert.deepEqual(splitArgs(joinArgs(argv)), argv, joinArgs(argv));
    }
    assert.equal(joinArgs(['ls', '-la', '/tmp']), 'ls -la /tmp');
  });
});

describe('parseEnv', () => {
  it('reads NAME=value lines, skipping blanks and comments; values keep = and spaces', () => {
    assert.deepEqual(parseEnv('A=1\n\n# note\n B_2 = x=y z \nEMPTY='), { A: '1', B_2: ' x=y z ', EMPTY: '' });
  });
  it('names the bad line', () => {
    assert.throws(() => parseEnv('A=1\nnot a pair'), /line 2/);
    assert.throws(() => parseEnv('1A=x'), /line 1/);
  });
});

describe('shell pane output', () => {
  it('drops colours, cursor moves and titles', () => {
    assert.equal(stripEscapes('\x1b[1;32mgreen\x1b[0m \x1b]0;title\x07done\x1b[K'), 'green done');
  });
  it('handles CR LF, a lone CR and backspaces on the current line', () => {
    assert.equal(appendOutput('', 'a\r\nb\r\n'), 'a\nb\n');
    assert.equal(appendOutput('x\n', '50%\r100%'), 'x\n100%');
    assert.equal(appendOutput('$ ', 'lx\b \bs'), '$ ls');
  });
  it('keeps at most max characters, cutting whole lines', () => {
    const out = appendOutput('', 'line one\nline two\nline three\n', 20);
    assert.ok(out.length <= 20);
    assert.equal(out, 'line three\n');
  });
});

describe('NDJSON reader', () => {
  it('holds back a line cut in the middle, and a UTF-8 character cut in two', () => {
    const bytes = new TextEncoder().encode('{"step":"pulling","message":"ünïcode"}\n\n{"name":"a","state":"running"}');
    const dec = new NdjsonDecoder();
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ü"
    assert.deepEqual(dec.push(bytes.slice(0, cut)), []);
    assert.deepEqual(dec.push(bytes.slice(cut)), [{ step: 'pulling', message: 'ünïcode' }]);
    assert.deepEqual(dec.end(), [{ name: 'a', state: 'running' }]);
    assert.deepEqual(dec.end(), []);
  });
  it('names the line that is not JSON', () => {
    const dec = new NdjsonDecoder();
    assert.throws(() => dec.push('{"ok":1}\n<html>oops</html>\n'), /line 2 of the answer is not JSON: <html>/);
  });
  it('reads a byte stream value by value as lines complete', async () => {
    const chunks = ['{"a":', '1}\n{"b"', ':2}\n', '{"c":3}'].map((c) => new TextEncoder().encode(c));
    const stream = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (const c of chunks) ctl.enqueue(c);
        ctl.close();
      },
    });
    const seen: unknown[] = [];
    await readNdjson(stream, (v) => seen.push(v));
    assert.deepEqual(seen, [{ a: 1 }, { b: 2 }, { c: 3 }]);
  });
});

describe('dashboard sources', () => {
  it('typecheck under web/tsconfig.json (DOM lib, Preact JSX)', { timeout: 180_000 }, async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
    const result = await promisify(execFile)(tsc, ['-p', 'web/tsconfig.json'], { cwd: root }).then(
      () => '',
      (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
    );
    assert.equal(result, '', `tsc reported errors:\n${result}`);
  });
});
