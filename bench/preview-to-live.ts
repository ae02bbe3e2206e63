/**
 * Webhook-to-live benchmark for pull-request previews: a signed `opened` delivery for the example
 * app (two node services, `database: host` on a throwaway PostgreSQL, process runtime) → the first
 * 200 from `{pr}.preview.test` through the edge. Also times `synchronize` → new version served.
 * Prints each run and the medians. Run: `npx tsx bench/preview-to-live.ts [N=5]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTestDaemon } from '../test/support/daemon.js';
import { pullRequestPayload, sendWebhook, startGithubFake } from '../test/support/github-fake.js';
import { startPostgres } from '../test/support/postgres.js';
import { commitVersion, createPreviewRepo, getVia } from '../test/support/preview-fixture.js';

const N = Number(process.argv[2] ?? 5);
const SECRET = 'bench-secret';
const REPO = 'octo-org/app';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function until(fn: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const tmp = mkdtempSync(path.join(tmpdir(), 'berth-bench-preview-'));
const repoDir = path.join(tmp, 'repo');
createPreviewRepo(repoDir);
const cloneUrl = pathToFileURL(repoDir).href;
const pg = await startPostgres();
const fake = await startGithubFake();
const t = await startTestDaemon({
  githubWebhookSecret: SECRET,
  previewRepos: [REPO],
  githubToken: fake.token,
  githubApiUrl: fake.url,
  allowFileRepos: true,
  previewDomain: 'preview.test',
  postgresUrl: pg.adminUrl,
  drainSeconds: 1,
});
const send = (action: string, pr: number, sha: string) =>
  sendWebhook(`${t.daemon.url}/webhooks/github`, { event: 'pull_request', secret: SECRET, payload: pullRequestPayload({ action, repo: REPO, pr, sha, cloneUrl }) });

const live: number[] = [];
const updated: number[] = [];
try {
  for (let i = 0; i < N; i++) {
    const pr = 100 + i;
    const host = `${pr}.preview.test`;
    const sha1 = commitVersion(repoDir, `a${i}`);
    let t0 = performance.now();
    await send('opened', pr, sha1);
    await until(async () => (await getVia(t.daemon.url, host)).status === 200);
    live.push(performance.now() - t0);

    const sha2 = commitVersion(repoDir, `b${i}`);
    t0 = performance.now();
    await send('synchronize', pr, sha2);
    await until(async () => JSON.parse((await getVia(t.daemon.url, host)).body).sha === sha2);
    updated.push(performance.now() - t0);

    await send('closed', pr, sha2);
    await until(async () => (await getVia(t.daemon.url, host)).status === 404);
    process.stdout.write(`run ${i + 1}: opened→live ${live[i]!.toFixed(0)} ms, synchronize→new version ${updated[i]!.toFixed(0)} ms\n`);
  }
  process.stdout.write(`\nwebhook → live (median of ${N}): ${median(live).toFixed(0)} ms\n`);
  process.stdout.write(`synchronize → new version served (median of ${N}): ${median(updated).toFixed(0)} ms\n`);
} finally {
  await until(async () => t.daemon.previews.service.list().length === 0, 30_000).catch(() => {});
  await t.stop();
  await fake.close();
  await pg.stop();
  rmSync(tmp, { recursive: true, force: true });
}
