import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { pullRequestPayload, sendWebhook } from '../support/github-fake.js';
import { getVia } from '../support/preview-fixture.js';
import { ensureTestImage, TEST_IMAGE } from '../support/test-image.js';

/**
 * Previews on podman: `build` services are built with the runtime from the PR checkout, env comes
 * in as /etc/preview.env, the update swaps generations, `closed` removes the containers.
 */

const run = promisify(execFile);
const podmanMissing = await run('podman', ['--version']).then(() => false, () => true);
const SECRET = 'podman-preview-secret';
const REPO = 'octo-org/site';
const PR = 21;
const HOST = `${PR}.preview.test`;
const MISSING_POSTGRES_IMAGE = 'localhost/berth-no-such-postgres:16';

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim();

function commitSite(dir: string, version: string, database: 'none' | 'container' = 'none'): string {
  mkdirSync(path.join(dir, 'site'), { recursive: true });
  writeFileSync(path.join(dir, 'site', 'index.html'), `site ${version}\n`);
  writeFileSync(path.join(dir, 'Containerfile'), `FROM ${TEST_IMAGE}\nCOPY site /srv\n`);
  writeFileSync(
    path.join(dir, 'berth.preview.yaml'),
    'services:\n  - name: web\n    build: { context: ., containerfile: Containerfile }\n    command: [sh, -c, "cp /etc/preview.env /srv/env.txt && exec httpd -f -p 8080 -h /srv"]\n    port: 8080\n    healthcheck: { http: /index.html, interval: 100ms, retries: 100 }\n' +
      `database: ${database}\n`,
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', version);
  return git(dir, 'rev-parse', 'HEAD');
}

describe('previews on podman', { skip: podmanMissing ? 'podman is not installed' : false }, () => {
  let t: TestDaemon;
  let tmp: string;
  let repoDir: string;
  let conf: string;
  const deliver = (action: string, sha: string, pr = PR) =>
    sendWebhook(`${t.daemon.url}/webhooks/github`, {
      event: 'pull_request',
      secret: SECRET,
      payload: pullRequestPayload({ action, repo: REPO, pr, sha, cloneUrl: pathToFileURL(repoDir).href }),
    });
  const waitFor = async (what: string, fn: () => Promise<boolean>, ms = 90_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await fn().catch(() => false))) {
      if (Date.now() > deadline) {
        const detail = t.daemon.previews.service.list().map((p) => `${p.state}: ${p.reason}`);
        throw new Error(`timed out waiting for ${what} (${detail.join('; ')})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const containers = async (): Promise<string[]> =>
    (await run('podman', ['ps', '-a', '--filter', 'label=berth.kind=preview', '--format', '{{.Names}}'], { env: { ...process.env, CONTAINERS_CONF: conf } })).stdout
      .split('\n')
      .filter(Boolean);

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'berth-preview-podman-'));
    repoDir = path.join(tmp, 'repo');
    mkdirSync(repoDir);
    git(repoDir, 'init', '--quiet', '--initial-branch=main');
    t = await startTestDaemon({
      runtime: 'podman',
      githubWebhookSecret: SECRET,
      previewRepos: [REPO],
      allowFileRepos: true,
      previewDomain: 'preview.test',
      drainSeconds: 1,
      // No registry here: an image that is not in the local store must fail with its name.
      previewPostgresImage: MISSING_POSTGRES_IMAGE,
    });
    conf = path.join(t.dataDir, 'containers.conf');
    await ensureTestImage('podman', { CONTAINERS_CONF: conf });
  });

  after(async () => {
    // Whatever a failed assertion left behind.
    for (const p of t?.daemon.previews.service.list() ?? []) t.daemon.previews.service.requestDown(p.id);
    await waitFor('cleanup', async () => t.daemon.previews.service.list().length === 0, 30_000).catch(() => {});
    await t?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds, serves with /etc/preview.env, swaps on synchronize and removes on closed', async () => {
    const sha1 = commitSite(repoDir, 'one');
    assert.equal((await deliver('opened', sha1)).status, 202);
    await waitFor('v1 live', async () => (await getVia(t.daemon.url, HOST, '/index.html')).body === 'site one\n');
    const env = (await getVia(t.daemon.url, HOST, '/env.txt')).body;
    assert.match(env, new RegExp(`^PREVIEW_URL=http://${HOST}$`, 'm'));
    assert.match(env, new RegExp(`^GIT_SHA=${sha1}$`, 'm'));
    assert.match(env, new RegExp(`^PR_NUMBER=${PR}$`, 'm'));

    const sha2 = commitSite(repoDir, 'two');
    assert.equal((await deliver('synchronize', sha2)).status, 202);
    await waitFor('v2 live', async () => (await getVia(t.daemon.url, HOST, '/index.html')).body === 'site two\n');
    await waitFor('old generation removed', async () => (await containers()).length === 1);

    assert.equal((await deliver('closed', sha2)).status, 202);
    await waitFor('preview gone', async () => t.daemon.previews.service.list().length === 0);
    assert.equal((await getVia(t.daemon.url, HOST, '/')).status, 404);
    assert.deepEqual(await containers(), []);
    const images = (await run('podman', ['images', '--format', '{{.Repository}}'], { env: { ...process.env, CONTAINERS_CONF: conf } })).stdout;
    assert.equal(images.includes('berth-preview-'), false, 'built images removed');
  });

  it('database: container names the PostgreSQL image when it is not present locally', async () => {
    const sha = commitSite(repoDir, 'db', 'container');
    assert.equal((await deliver('opened', sha, 23)).status, 202);
    await waitFor('build failed', async () => t.daemon.previews.service.list().some((p) => p.pr === 23 && p.state === 'failed'));
    const p = t.daemon.previews.service.list().find((x) => x.pr === 23)!;
    assert.match(p.reason ?? '', new RegExp(`database: container needs the image ${MISSING_POSTGRES_IMAGE.replace(/[.]/g, '\\.')}, which is not present locally`));
    assert.match(await t.daemon.previews.service.buildLog(p.id), /FAILED: .*berth-no-such-postgres/);
    const left = (await run('podman', ['ps', '-a', '--filter', `label=berth.id=${p.id}`, '--format', '{{.Names}}'], { env: { ...process.env, CONTAINERS_CONF: conf } })).stdout.trim();
    assert.equal(left, '', 'nothing left running for the failed preview');
    t.daemon.previews.service.requestDown(p.id);
    await waitFor('failed preview destroyed', async () => !t.daemon.previews.service.list().some((x) => x.pr === 23));
  });
});
