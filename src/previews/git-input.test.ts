import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { checkCloneUrl, gitRefProblem } from './git-input.js';

describe('clone URLs', () => {
  it('accepts https, http on loopback, and file:// only when allowed', () => {
    assert.equal(checkCloneUrl('https://github.com/o/r.git', false).href, 'https://github.com/o/r.git');
    assert.equal(checkCloneUrl('http://127.0.0.1:8080/o/r.git', false).hostname, '127.0.0.1');
    assert.equal(checkCloneUrl('file:///tmp/repo', true).protocol, 'file:');
  });
  const refused: [string, string, RegExp][] = [
    ['an option', '--upload-pack=touch%20/tmp/x', /not a clone URL/],
    ['a short option', '-u', /not a clone URL/],
    ['ssh', 'ssh://git@github.com/o/r.git', /ssh:\/\/… is not allowed/],
    ['ext transport', 'ext::sh -c touch% /tmp/x', /whitespace/],
    ['http off loopback', 'http://example.com/o/r.git', /http:\/\/… is not allowed/],
    ['file without the test switch', 'file:///etc', /BERTH_ALLOW_FILE_REPOS|not allowed/],
    ['a leading space', ' https://github.com/o/r.git', /whitespace/],
    ['a newline', 'https://github.com/o/r.git\n--upload-pack=x', /whitespace/],
    ['a NUL', 'https://github.com/o/r\0.git', /control/],
    ['a very long URL', `https://github.com/${'a'.repeat(2100)}`, /longer than 2048/],
  ];
  for (const [what, url, message] of refused) {
    it(`refuses ${what} with E_BAD_REQUEST and a hint`, () => {
      assert.throws(() => checkCloneUrl(url, false), (err: unknown) => isBerthError(err) && err.code === 'E_BAD_REQUEST' && message.test(err.message) && Boolean(err.hint));
    });
  }
});

describe('git refs', () => {
  it('accepts branch and tag names', () => {
    for (const ok of ['main', 'feature/x-1', 'v1.2.3', 'release_2026', 'a.b/c']) assert.equal(gitRefProblem(ok), null, ok);
  });
  const refused: [string, RegExp][] = [
    ['--upload-pack=x', /must not start with "-"/],
    ['-b', /must not start with "-"/],
    ['', /1 to 255/],
    ['a b', /may contain only/],
    ['a\nb', /may contain only/],
    ['a..b', /not a valid git ref/],
    ['a//b', /not a valid git ref/],
    ['/a', /not a valid git ref/],
    ['a/', /not a valid git ref/],
    ['a.lock', /not a valid git ref/],
    ['a/.hidden', /not a valid git ref/],
    ['HEAD@{1}', /may contain only/],
  ];
  for (const [ref, message] of refused) it(`refuses ${JSON.stringify(ref)}`, () => assert.match(gitRefProblem(ref) ?? '(accepted)', message));
});
