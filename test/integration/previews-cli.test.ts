/**
 * `berth preview ls|create|update|destroy|logs` against a real daemon (process runtime, in-process,
 * ephemeral port) and a local git repository: every command runs as a child process, as a user
 * would, with BERTH_URL and BERTH_DATA_DIR set. Outputs and exit codes are the contract.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { commitVersion, createPreviewRepo, getVia } from '../support/preview-fixture.js';

const root = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(root, 'src/cli/index.ts');
const REPO = 'octo-org/cli-app';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

const git = (dir: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.invalid', ...args], { cwd: dir, encoding: 'utf8' }).trim();

describe('berth preview (CLI) against a running daemon', () => {
  let t: TestDaemon;
  let tmp: string;
  let repoDir: string;
  let cloneUrl: string;

  /** Runs the CLI with only BERTH_URL / BERTH_DATA_DIR of the test daemon (no BERTH_* from the runner). */
  const cli = (...args: string[]): Promise<Run> => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      cwd: root,
      env: { ...env, BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  };

  const waitFor = async <T>(what: string, fn: () => T | undefined | null | false, ms = 60_000): Promise<T> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(t.daemon.previews.service.list().map((p) => [p.pr, p.state, p.reason]))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const previewOf = (pr: number) => t.daemon.previews.service.list().find((p) => p.pr === pr);
  const idle = (): boolean => t.daemon.previews.queue.depth().pending + t.daemon.previews.queue.depth().running === 0;

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'berth-preview-cli-'));
    repoDir = path.join(tmp, 'repo');
    createPreviewRepo(repoDir, { database: 'none' });
    cloneUrl = pathToFileURL(repoDir).href;
    t = await startTestDaemon({ allowFileRepos: true, previewDomain: 'preview.test', drainSeconds: 0 });
  });

  after(async () => {
    for (const p of t?.daemon.previews.service.list() ?? []) t.daemon.previews.service.requestDown(p.id);
    await waitFor('cleanup', () => t.daemon.previews.service.list().length === 0, 30_000).catch(() => {});
    await t?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('ls says there are none yet', async () => {
    const r = await cli('preview', 'ls');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'no previews — they appear when a pull request is opened (or: berth preview create)\n');
    const json = await cli('preview', 'ls', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), []);
  });

  let id = '';
  it('create queues a build of the branch head; ls and logs show it live', async () => {
    const head = git(repoDir, 'rev-parse', 'HEAD');
    const r = await cli('preview', 'create', '--repo', REPO, '--pr', '5', '--ref', 'main', '--clone-url', cloneUrl);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^queued build of ${REPO}#5 at ${head.slice(0, 7)} \\(job \\d+\\); follow with: berth preview logs ${REPO}#5\\n$`));
    assert.equal(r.stderr, '');
    const p = await waitFor('PR 5 live', () => previewOf(5)?.state === 'running' && idle() && previewOf(5));
    id = p.id;

    const table = await cli('preview', 'ls');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+REPO\s+PR\s+STATE\s+SHA\s+URL\s+UPDATED$/m);
    assert.match(table.stdout, new RegExp(`^${id}\\s+${REPO}\\s+5\\s+running\\s+${head.slice(0, 7)}\\s+http://5\\.preview\\.test\\s+`, 'm'));
    const json = JSON.parse((await cli('preview', 'ls', '--json')).stdout) as { id: string; state: string; sha: string; generation: number }[];
    assert.deepEqual(json.map((x) => [x.id, x.state, x.sha, x.generation]), [[id, 'running', head, 1]]);

    for (const which of [`${REPO}#5`, id]) {
      const logs = await cli('preview', 'logs', which);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, new RegExp(`fetching ${head}`));
      assert.match(logs.stdout, /live at http:\/\/5\.preview\.test/);
    }
    const served = JSON.parse((await getVia(t.daemon.url, '5.preview.test', '/')).body);
    assert.equal(served.version, 'v1');
  });

  it('update rebuilds at the new head with the preview\'s own clone URL', async () => {
    const head = commitVersion(repoDir, 'v2', { database: 'none' });
    const r = await cli('preview', 'update', '--repo', REPO, '--pr', '5');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^queued update of ${REPO}#5 to ${head.slice(0, 7)} \\(job \\d+\\)`));
    await waitFor('v2 live', () => previewOf(5)?.generation === 2 && previewOf(5)?.sha === head && idle());
    assert.equal(JSON.parse((await getVia(t.daemon.url, '5.preview.test', '/')).body).version, 'v2');
    const json = await cli('preview', 'update', '--repo', REPO, '--pr', '5', '--json');
    assert.equal(json.code, 0, json.stderr);
    assert.equal(JSON.parse(json.stdout).sha, head);
    await waitFor('idle', idle);
  });

  it('a build that fails shows its reason in ls and the failure in logs', async () => {
    git(repoDir, 'checkout', '--quiet', '-b', 'broken');
    writeFileSync(path.join(repoDir, 'berth.preview.yaml'), 'services:\n  - name: web\n    port: nope\n');
    git(repoDir, 'commit', '--quiet', '-am', 'broken config');
    git(repoDir, 'checkout', '--quiet', 'main');
    const r = await cli('preview', 'create', '--repo', REPO, '--pr', '6', '--ref', 'broken', '--clone-url', cloneUrl);
    assert.equal(r.code, 0, r.stderr);
    await waitFor('PR 6 failed', () => previewOf(6)?.state === 'failed' && idle());
    const table = await cli('preview', 'ls');
    assert.match(table.stdout, new RegExp(`^\\S+\\s+${REPO}\\s+6\\s+failed: berth\\.preview\\.yaml:3:11`, 'm'));
    const logs = await cli('preview', 'logs', `${REPO}#6`);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /FAILED: berth\.preview\.yaml:3:11: services\.0\.port/);
    const d = await cli('preview', 'destroy', `${REPO}#6`);
    assert.equal(d.code, 0, d.stderr);
    await waitFor('PR 6 gone', () => !previewOf(6));
  });

  it('bad input fails with a clear error, a non-zero exit code and no side effects', async () => {
    const jobs = t.daemon.previews.queue.list().length;
    const cases: { args: string[]; code: number; stderr: RegExp }[] = [
      { args: ['preview', 'logs', 'nosuchpreview'], code: 1, stderr: /^error E_NOT_FOUND: no preview nosuchpreview\n  hint: .*berth preview ls\n$/ },
      { args: ['preview', 'destroy', `${REPO}#99`], code: 1, stderr: new RegExp(`^error E_NOT_FOUND: no preview ${REPO}#99\\n`) },
      { args: ['preview', 'update', '--repo', REPO, '--pr', '99'], code: 1, stderr: new RegExp(`^error E_NOT_FOUND: no preview ${REPO}#99 to update\\n  hint: create it with: berth preview create --repo ${REPO} --pr 99`) },
      {
        args: ['preview', 'create', '--repo', REPO, '--pr', '7', '--clone-url', pathToFileURL(path.join(tmp, 'no-such-repo')).href],
        code: 1,
        stderr: /^error E_BAD_REQUEST: git ls-remote file:\/\/\S+no-such-repo failed: .*does not appear to be a git repository.*\n  hint: check the repository/,
      },
      { args: ['preview', 'create', '--repo', REPO, '--pr', '7', '--ref', 'no-such-branch', '--clone-url', cloneUrl], code: 1, stderr: /^error E_NOT_FOUND: no branch or tag no-such-branch in file:/ },
      { args: ['preview', 'create', '--repo', 'not-a-repo', '--pr', '7', '--clone-url', cloneUrl], code: 1, stderr: /^error E_BAD_REQUEST: .*repo.*must be owner\/name/ },
      { args: ['preview', 'create', '--repo', REPO, '--pr', 'abc'], code: 2, stderr: /^error: --pr must be a pull request number, not abc\n$/ },
      { args: ['preview', 'create', '--pr', '7'], code: 2, stderr: /required option '--repo <owner\/name>' not specified/ },
    ];
    for (const c of cases) {
      const r = await cli(...c.args);
      assert.equal(r.code, c.code, `${c.args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, c.stderr, c.args.join(' '));
      assert.equal(r.stdout, '', `${c.args.join(' ')} printed nothing on stdout`);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    }
    assert.equal(t.daemon.previews.queue.list().length, jobs, 'no job was queued');
    assert.deepEqual(t.daemon.previews.service.list().map((p) => p.pr), [5], 'no preview was made');
  });

  it('destroy removes the preview; the id is then unknown', async () => {
    const r = await cli('preview', 'destroy', `${REPO}#5`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `destroying ${REPO}#5 (${id})\n`);
    await waitFor('PR 5 gone', () => !previewOf(5) && idle());
    assert.equal((await getVia(t.daemon.url, '5.preview.test', '/')).status, 404);
    assert.equal((await cli('preview', 'ls')).stdout, 'no previews — they appear when a pull request is opened (or: berth preview create)\n');
    const logs = await cli('preview', 'logs', id);
    assert.equal(logs.code, 1);
    assert.match(logs.stderr, new RegExp(`^error E_NOT_FOUND: no preview ${id}\\n`));
  });
});
