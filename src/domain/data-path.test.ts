import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_DATA_PATH, dataPathProblem } from './data-path.js';
import { volumeProblem } from '../runtime/runtime.js';

describe('workspace data paths', () => {
  for (const ok of [DEFAULT_DATA_PATH, '/home/dev', '/home/dev/project', '/workspaces/my-repo', '/data', '/srv/a_b.c@d+e~f', '/opt/x', '/root', '/var/lib/app', '/etc/myapp']) {
    it(`accepts ${ok}`, () => {
      assert.equal(dataPathProblem(ok), null);
      // Whatever passes here, the runtime contract takes as a volume target too.
      assert.equal(volumeProblem([{ name: 'v', target: ok }]), null);
    });
  }

  const refused: [string, unknown, RegExp][] = [
    ['the root', '/', /must not be "\/"/],
    ['procfs', '/proc', /under \/proc/],
    ['beneath procfs', '/proc/self', /under \/proc/],
    ['sysfs', '/sys/fs', /under \/sys/],
    ['devices', '/dev', /under \/dev/],
    ['a parent reference', '..', /not absolute/],
    ['a parent segment', '/workspace/../etc', /contains "\.\."/],
    ['a dot segment', '/workspace/.', /contains "\."/],
    ['an option', '-v', /not absolute/],
    ['an option with a value', '--volume=/:/host', /not absolute/],
    ['a volume spec', 'x:y', /not absolute/],
    ['a colon', '/data:/host', /characters other than/],
    ['mount options', '/data:ro', /characters other than/],
    ['a comma', '/a,b', /characters other than/],
    ['a space', '/my data', /characters other than/],
    ['a NUL', '/data\0', /characters other than/],
    ['a newline', '/data\n', /characters other than/],
    ['a trailing slash', '/workspace/', /empty segment/],
    ['a double slash', '//workspace', /empty segment/],
    ['relative', 'workspace', /not absolute/],
    ['empty', '', /non-empty/],
    ['not a string', 42, /non-empty string/],
    ['usr', '/usr', /system directory/],
    ['etc', '/etc', /system directory/],
    ['tmp', '/tmp', /system directory/],
    ['the berth-url helper', '/usr/local/bin/berth-url', /system directory/],
    ['too long', `/${'a'.repeat(120)}/${'b'.repeat(140)}`, /at most 255/],
  ];
  for (const [what, p, re] of refused) {
    it(`refuses ${what}`, () => {
      const problem = dataPathProblem(p);
      assert.ok(problem, `${JSON.stringify(p)} was accepted`);
      assert.match(problem, re);
    });
  }
});
