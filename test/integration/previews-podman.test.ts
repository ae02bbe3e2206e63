import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { workspaceNetworkName } from '../../src/runtime/networks.js';
import { workloadName } from '../../src/services/workspaces.js';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { pullRequestPayload, sendWebhook } from '../support/github-fake.js';
import { getVia } from '../support/preview-fixture.js';
import { ensureTestImage, TEST_IMAGE } from '../support/test-image.js';
import { requireOrSkip } from '../support/require.js';

/**
 * Previews on podman: `build` services are built with the runtime from the PR checkout, env comes
 * in as /etc/preview.env, the update swaps generations, `closed` removes the containers and the
 * preview's network. On that network a service reaches another by its service name, and a
 * container of another preview reaches neither the name nor the address.
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

/**
 * Two services from one image: `api` serves its PR number (from /etc/preview.env), `web` serves a
 * page and a CGI script that asks `http://api:8081/` — by service name, from inside the network.
 */
function commitPair(dir: string): string {
  mkdirSync(path.join(dir, 'pair', 'cgi-bin'), { recursive: true });
  writeFileSync(path.join(dir, 'pair', 'index.html'), 'pair web\n');
  const cgi = path.join(dir, 'pair', 'cgi-bin', 'api');
  // busybox httpd runs CGI with a bare environment: absolute paths.
  writeFileSync(cgi, '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\nprintf "GET /pr.txt HTTP/1.0\\r\\n\\r\\n" | /bin/nc -w 3 api 8081 | /bin/tail -n 1\n');
  chmodSync(cgi, 0o755);
  writeFileSync(path.join(dir, 'Pair.Containerfile'), `FROM ${TEST_IMAGE}\nCOPY pair /srv\n`);
  writeFileSync(
    path.join(dir, 'berth.preview.yaml'),
    'services:\n' +
      '  - name: web\n    build: { context: ., containerfile: Pair.Containerfile }\n    command: [httpd, -f, -p, "8080", -h, /srv]\n    port: 8080\n' +
      '    healthcheck: { http: /index.html, interval: 100ms, retries: 100 }\n' +
      '  - name: api\n    build: { context: ., containerfile: Pair.Containerfile }\n' +
      '    command: [sh, -c, "mkdir -p /api && grep ^PR_NUMBER= /etc/preview.env > /api/pr.txt && exec httpd -f -p 8081 -h /api"]\n    port: 8081\n' +
      '    healthcheck: { http: /pr.txt, interval: 100ms, retries: 100 }\n' +
      'database: none\n',
  );
  git(dir, 'add', '-A');
  git(dir, 'commit', '--quiet', '-m', 'pair');
  return git(dir, 'rev-parse', 'HEAD');
}

describe('previews on podman', { skip: requireOrSkip('podman', !podmanMissing, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
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
  /** `podman argv…` with the daemon's containers.conf; stdout. */
  const podman = async (...argv: string[]): Promise<string> => (await run('podman', argv, { env: { ...process.env, CONTAINERS_CONF: conf } })).stdout;
  const containers = async (): Promise<string[]> =>
    (await podman('ps', '-a', '--filter', 'label=berth.kind=preview', '--format', '{{.Names}}')).split('\n').filter(Boolean);
  /** Names of the networks labelled with a preview's id. */
  const networksOf = async (id: string): Promise<string[]> =>
    (await podman('network', 'ls', '--filter', `label=berth.id=${id}`, '--format', '{{.Name}}')).split('\n').filter(Boolean);
  const previewOf = (pr: number) => t.daemon.previews.service.list().find((p) => p.pr === pr);

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

    const id = previewOf(PR)!.id;
    assert.deepEqual(await networksOf(id), [`berth-pv-${id}`], 'one network for both generations');
    assert.equal((await deliver('closed', sha2)).status, 202);
    await waitFor('preview gone', async () => t.daemon.previews.service.list().length === 0);
    assert.equal((await getVia(t.daemon.url, HOST, '/')).status, 404);
    assert.deepEqual(await containers(), []);
    assert.deepEqual(await networksOf(id), [], 'closed removes the network');
    const images = (await run('podman', ['images', '--format', '{{.Repository}}'], { env: { ...process.env, CONTAINERS_CONF: conf } })).stdout;
    // This preview's images only: a run killed half-way leaves other previews' images on the engine
    // (seen: two berth-preview-<other id> images failed this check in a full run).
    assert.equal(images.includes(`berth-preview-${id}`), false, 'built images removed');
  });

  it('database: container names the PostgreSQL image when it is not present locally', async () => {
    const sha = commitSite(repoDir, 'db', 'container');
    assert.equal((await deliver('opened', sha, 23)).status, 202);
    await waitFor('build failed', async () => t.daemon.previews.service.list().some((p) => p.pr === 23 && p.state === 'failed'));
    const p = t.daemon.previews.service.list().find((x) => x.pr === 23)!;
    assert.match(p.reason ?? '', new RegExp(`database: container needs the image ${MISSING_POSTGRES_IMAGE.replace(/[.]/g, '\\.')}, which is not present locally`));
    assert.match(await t.daemon.previews.service.buildLog(p.id), /FAILED: .*berth-no-such-postgres/);
    const left = (await podman('ps', '-a', '--filter', `label=berth.id=${p.id}`, '--format', '{{.Names}}')).trim();
    assert.equal(left, '', 'nothing left running for the failed preview');
    assert.deepEqual(await networksOf(p.id), [], 'the failed first build removed the network it made');
    t.daemon.previews.service.requestDown(p.id);
    await waitFor('failed preview destroyed', async () => !t.daemon.previews.service.list().some((x) => x.pr === 23));
  });
  it('services reach each other by name on the preview network; another preview reaches neither name nor address', async () => {
    const sha = commitPair(repoDir);
    assert.equal((await deliver('opened', sha, 31)).status, 202);
    assert.equal((await deliver('opened', sha, 32)).status, 202);
    const live = (pr: number) => async () => (await getVia(t.daemon.url, `${pr}.preview.test`, '/index.html')).body === 'pair web\n';
    await waitFor('PR 31 live', live(31));
    await waitFor('PR 32 live', live(32));
    const a = previewOf(31)!;
    const b = previewOf(32)!;

    // web → api by service name, through the edge: each preview's web reaches its own api.
    assert.equal((await getVia(t.daemon.url, '31.preview.test', '/cgi-bin/api')).body, 'PR_NUMBER=31\n');
    assert.equal((await getVia(t.daemon.url, '32.preview.test', '/cgi-bin/api')).body, 'PR_NUMBER=32\n');

    const netOf = async (container: string): Promise<Record<string, { IPAddress: string }>> =>
      JSON.parse(await podman('inspect', '--format', '{{json .NetworkSettings.Networks}}', container)) as Record<string, { IPAddress: string }>;
    const apiA = await netOf(`berth-pv-${a.id}-g1-api`);
    assert.deepEqual(Object.keys(apiA), [`berth-pv-${a.id}`], "A's api is on A's network only");
    assert.deepEqual(Object.keys(await netOf(`berth-pv-${b.id}-g1-web`)), [`berth-pv-${b.id}`], "B's web is on B's network only");
    const address = apiA[`berth-pv-${a.id}`]!.IPAddress;
    assert.match(address, /^\d+\.\d+\.\d+\.\d+$/);

    // From B's web: A's api neither by address nor (B's own `api` answers the name) as A's.
    const ask = async (container: string, host: string): Promise<string> =>
      podman('exec', container, 'sh', '-c', 'printf "GET /pr.txt HTTP/1.0\\r\\n\\r\\n" | nc -w 3 "$0" 8081 || echo "unreachable $?"', host);
    assert.match(await ask(`berth-pv-${a.id}-g1-web`, address), /PR_NUMBER=31/, "A's api answers at its address inside A's network");
    assert.match(await ask(`berth-pv-${b.id}-g1-web`, address), /unreachable/, "B reaches A's api by address");
    assert.match(await ask(`berth-pv-${b.id}-g1-web`, `berth-pv-${a.id}-g1-api`), /unreachable/, "B resolves A's container name");

    // A workspace lives on a network of its own, which no preview reaches (nor it them): on the
    // engine's default network a preview could dial its container ports past the edge.
    const ws = await t.api('POST', '/api/workspaces', { name: 'neighbour', image: TEST_IMAGE, command: ['httpd', '-f', '-p', '8081', '-h', '/www'] });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const wsContainer = workloadName(ws.body.id, t.daemon.installation);
    const wsNetwork = workspaceNetworkName(t.daemon.installation, ws.body.id);
    const wsNets = await netOf(wsContainer);
    assert.deepEqual(Object.keys(wsNets), [wsNetwork], 'the workspace is on its own network only');
    const wsAddress = wsNets[wsNetwork]!.IPAddress;
    const probe = (container: string, host: string): Promise<string> =>
      podman('exec', container, 'sh', '-c', 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 "$0" 8081 | head -n 1 || true; echo end', host);
    assert.match(await probe(wsContainer, '127.0.0.1'), /HTTP\/1\.[01] 200/, 'the workspace answers inside itself');
    assert.doesNotMatch(await probe(`berth-pv-${b.id}-g1-web`, wsAddress), /HTTP/, "a preview reaches the workspace's container port");
    assert.match(await ask(wsContainer, address), /unreachable/, "the workspace reaches a preview's api by address");
    assert.equal((await t.api('DELETE', `/api/workspaces/${ws.body.id}`)).status, 204);

    for (const p of [a, b]) t.daemon.previews.service.requestDown(p.id);
    await waitFor('both previews gone', async () => !previewOf(31) && !previewOf(32));
    assert.deepEqual(await networksOf(a.id), []);
    assert.deepEqual(await networksOf(b.id), []);
  });
});
