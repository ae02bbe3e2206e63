/** Pretty log lines from real pino output. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino, type Logger } from 'pino';
import { prettyLine } from './log-pretty.js';

function pinoLine(write: (log: Logger) => void): string {
  let out = '';
  const log: Logger = pino({ base: { svc: 'berth' }, timestamp: pino.stdTimeFunctions.isoTime }, { write: (s: string) => (out += s) });
  write(log);
  return out.trim();
}

describe('prettyLine', () => {
  it('time, level, component, message, then the other fields as key=value', () => {
    const line = pinoLine((log) => log.child({ component: 'edge' }).info({ url: 'http://127.0.0.1:8995', workspaces: 2, note: 'a b' }, 'listening'));
    assert.match(prettyLine(line, false), /^\d\d:\d\d:\d\d INFO  edge listening url=http:\/\/127\.0\.0\.1:8995 workspaces=2 note="a b"$/);
  });
  it('errors show their stack under the line; colours only when asked', () => {
    const line = pinoLine((log) => log.error({ err: new Error('boom') }, 'create failed'));
    const text = prettyLine(line, false);
    assert.match(text, /^\d\d:\d\d:\d\d ERROR create failed\n {2}Error: boom\n +at /);
    assert.match(prettyLine(line, true), /\x1b\[31mERROR\x1b\[0m/);
  });
  it('keeps lines that are not pino records as they are', () => {
    assert.equal(prettyLine('plain text', false), 'plain text');
    assert.equal(prettyLine('{"no":"level"}', false), '{"no":"level"}');
  });
});
