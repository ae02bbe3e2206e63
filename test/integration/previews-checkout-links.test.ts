/**
 * Preview checkouts with symlinks that leave the repository (issue 11, item 8). A pull request
 * can commit `.preview.env → /some/host/file`: Berth writes the preview's environment to
 * `<checkout>/.preview.env`, so without a check it overwrote a file of the attacker's choosing
 * with the preview's env (or read one as berth.preview.yaml, or sent one as a build context). The
 * checkout is now refused before any of that, naming the link; links inside the repo still work.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isBerthError } from '../../src/errors.js';
import { BuildLog, checkoutCommit } from '../../src/previews/build.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { createPreviewRepo, waitForPreview } from '../support/preview-fixture.js';

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim();

/** Commits `links` (path → target, as written) on top of the fixture; returns the SHA. */
function commitLinks(repo: string, links: Record<string, string>): string {
  for (const [p, target] of Object.entries(links)) {
    mkdirSync(path.dirname(path.join(repo, p)), { recursive: true });
    symlinkSync(target, path.join(repo, p));
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '--quiet', '-m', 'links');
  return git(repo, 'rev-parse', 'HEAD');
}

describe('preview checkouts refuse symlinks that leave the repository', () => {
  let tmp: string;
  let victim: string;
  before(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'berth-checkout-links-'));
    victim = path.join(tmp, 'victim.txt');
    writeFileSync(victim, 'untouched\n');
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('checkoutCommit: a link out (absolute, relative, dangling) is refused by name; links inside pass', async () => {
    const repo = path.join(tmp, 'repo-direct');
    createPreviewRepo(repo, { database: 'none' });
    const log = new BuildLog(path.join(tmp, 'direct.log'));
    const okSha = commitLinks(repo, { 'docs/server.cjs': '../server.cjs', 'self': '.' });
    await checkoutCommit(pathToFileURL(repo).href, okSha, 1, path.join(tmp, 'co-ok'), log, { allowFile: true });
    const badSha = commitLinks(repo, { 'web/secret': victim, 'web/up': '../../../..', 'web/dangling': '/nonexistent/berth-file' });
    await assert.rejects(checkoutCommit(pathToFileURL(repo).href, badSha, 1, path.join(tmp, 'co-bad'), log, { allowFile: true }), (err: unknown) => {
      assert.ok(isBerthError(err));
      assert.equal(err.code, 'E_PREVIEW_BUILD');
      assert.match(err.message, /symlinks that leave the repository/);
      assert.ok(err.message.includes(`web/secret → ${victim}`), err.message);
      assert.ok(err.message.includes('web/up → ../../../..'), err.message);
      assert.ok(err.message.includes('web/dangling → /nonexistent/berth-file'), err.message);
      assert.ok(!err.message.includes('docs/server.cjs') && !err.message.includes('self →'), 'links inside are not named');
      assert.match(err.hint ?? '', /replace them/);
      return true;
    });
  });

  describe('through the daemon', () => {
    let t: TestDaemon;
    before(async () => {
      t = await startTestDaemon({ allowFileRepos: true, previewDomain: 'preview.test', drainSeconds: 0 });
    });
    after(async () => {
      for (const p of t?.daemon.previews.service.list() ?? []) t.daemon.previews.service.requestDown(p.id);
      await t?.stop();
    });

    it('option-shaped refs and clone URLs are refused 400 before git runs', async () => {
      const repo = path.join(tmp, 'repo-refs');
      createPreviewRepo(repo, { database: 'none' });
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ ref: '--upload-pack=touch /tmp/berth-pwned' }, /must not start with "-"/],
        [{ ref: '-b' }, /must not start with "-"/],
        [{ ref: 'main\n--upload-pack=x' }, /may contain only/],
        [{ ref: 'main', cloneUrl: '--upload-pack=touch%20/tmp/berth-pwned' }, /not a clone URL/],
        [{ ref: 'main', cloneUrl: 'ext::sh -c touch% /tmp/berth-pwned' }, /whitespace/],
        [{ ref: 'main', cloneUrl: 'ssh://git@github.com/acme/shop.git' }, /not allowed/],
      ];
      for (const [body, message] of cases) {
        const res = await t.api('POST', '/api/previews', { repo: 'acme/shop', cloneUrl: pathToFileURL(repo).href, number: 6, ...body });
        assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'E_BAD_REQUEST');
        assert.match(res.body.error.message, message);
        assert.ok(res.body.error.hint, 'with a hint');
      }
      assert.equal(((await t.api('GET', '/api/previews')).body.previews as any[]).filter((x) => x.pr === 6).length, 0);
    });

    it('a committed .preview.env → host file fails the preview, naming the link; the host file is untouched', async () => {
      const repo = path.join(tmp, 'repo-daemon');
      createPreviewRepo(repo, { database: 'none' });
      commitLinks(repo, { '.preview.env': victim });
      const res = await t.api('POST', '/api/previews', { repo: 'acme/shop', cloneUrl: pathToFileURL(repo).href, number: 5, ref: 'main' });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const p = await waitForPreview('the preview to settle', async () => {
        const p = ((await t.api('GET', '/api/previews')).body.previews as any[]).find((x) => x.pr === 5);
        return p && (p.state === 'failed' || p.state === 'running') ? p : null;
      });
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n', 'the file outside the repository was not written');
      assert.equal(p.state, 'failed', JSON.stringify(p));
      assert.ok(String(p.reason).includes(`.preview.env → ${victim}`), p.reason);
    });
  });
});
