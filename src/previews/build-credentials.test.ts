/**
 * Issue 11 (8), secrets reaching members: a preview's build log is readable by any logged-in user
 * (`GET /api/previews/:id`), and it recorded every git command line — including a clone URL
 * given with credentials (`https://user:token@host/repo.git`, a common way to fetch a private
 * repository). A real git run against a closed loopback port: the log and the error keep the
 * host and path, never the user or token.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { BuildLog, checkoutCommit, withoutUserinfo } from './build.js';
import { freeLoopbackPort } from '../../test/support/free-port.js';

describe('preview build logs and clone credentials', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-build-creds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('never writes the user or token of a clone URL to the build log or the error', async () => {
    const secret = 'ghp_S3cretTokenValue0123456789';
    const url = `http://deploy-bot:${secret}@127.0.0.1:${await freeLoopbackPort()}/octo/repo.git`;
    const log = new BuildLog(path.join(dir, 'build.log'));
    const err = await checkoutCommit(url, 'a'.repeat(40), 1, path.join(dir, 'checkout'), log, { allowFile: false }).then(
      () => assert.fail('the fetch cannot succeed'),
      (e: unknown) => e as Error,
    );
    const text = readFileSync(log.file, 'utf8');
    assert.match(text, /127\.0\.0\.1:\d+\/octo\/repo\.git/, 'the log still says what was fetched');
    for (const shown of [text, err.message, String((err.cause as Error | undefined)?.message ?? '')]) {
      assert.ok(!shown.includes(secret), `token shown: ${shown}`);
      assert.ok(!shown.includes('deploy-bot'), `user shown: ${shown}`);
    }
  });

  it('withoutUserinfo removes user and password from every URL and leaves the rest', () => {
    assert.equal(withoutUserinfo('$ git remote add origin https://u:p@github.com/o/r.git'), '$ git remote add origin https://github.com/o/r.git');
    assert.equal(withoutUserinfo('a https://tok@h/x and ssh://git@h2/y'), 'a https://h/x and ssh://h2/y');
    assert.equal(withoutUserinfo('mail me@example.com at https://h/p?x=a@b'), 'mail me@example.com at https://h/p?x=a@b');
  });
});
