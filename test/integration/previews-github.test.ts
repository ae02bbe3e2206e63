import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBerthError, type BerthError } from '../../src/errors.js';
import { GithubClient, nextLink, PREVIEW_COMMENT_MARKER, type CommitState } from '../../src/previews/github/client.js';
import { startGithubFake, type GithubFake } from '../support/github-fake.js';

/** The GitHub client against a local fake that checks GitHub's real request shapes. */

const REPO = 'octo-org/app';
const SHA = '0123456789abcdef0123456789abcdef01234567';

async function rejectsWith(p: Promise<unknown>, check: (e: BerthError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isBerthError(err), `expected a BerthError, got ${String(err)}`);
    assert.equal(err.code, 'E_GITHUB');
    check(err);
    return true;
  });
}

function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })),
  );
}

describe('GitHub fake', () => {
  let gh: GithubFake;
  before(async () => (gh = await startGithubFake()));
  after(() => gh.close());

  // The client tests only mean something if the fake refuses what GitHub refuses.
  it('refuses requests GitHub would refuse', async () => {
    const headers = { authorization: `Bearer ${gh.token}`, 'user-agent': 't', 'x-github-api-version': '2022-11-28' };
    const post = (path: string, body: string, h: Record<string, string> = headers) => fetch(`${gh.url}${path}`, { method: 'POST', headers: h, body });
    const statusPath = `/repos/${REPO}/statuses/${SHA}`;
    assert.equal((await post(statusPath, '{"state":"success"}', { ...headers, 'user-agent': '' })).status, 403);
    assert.equal((await post(statusPath, '{"state":"success"}', { ...headers, authorization: '' })).status, 401);
    assert.equal((await post(statusPath, '{"state":"success"}', { ...headers, authorization: 'Bearer nope' })).status, 401);
    assert.equal((await post(statusPath, '{"state":"success"}', { ...headers, 'x-github-api-version': '1999-01-01' })).status, 400);
    assert.equal((await post(statusPath, '{"state":')).status, 400);
    const bad = await post(statusPath, '{"state":"done"}');
    assert.equal(bad.status, 422);
    assert.match(((await bad.json()) as { message: string }).message, /is not one of/);
    assert.equal((await post(statusPath, JSON.stringify({ state: 'success', description: 'x'.repeat(141) }))).status, 422);
    assert.equal((await post(`/repos/${REPO}/statuses/nothex`, '{"state":"success"}')).status, 422);
    assert.equal((await post(`/repos/${REPO}/issues/1/comments`, '{}')).status, 422);
    assert.equal((await post(`/repos/${REPO}/issues/1/comments`, '{"body":5}')).status, 422);
    assert.equal((await post(`/repos/${REPO}/nope`, '{}')).status, 404);
    assert.equal(gh.statuses(REPO, SHA).length, 0);
    assert.equal(gh.comments(REPO, 1).length, 0);
  });
});

describe('GitHub client', () => {
  let gh: GithubFake;
  let client: GithubClient;
  before(async () => {
    gh = await startGithubFake({ login: 'berth-bot' });
    client = new GithubClient({ token: gh.token, baseUrl: gh.url, commentAuthor: 'berth-bot' });
  });
  after(() => gh.close());

  it('sets a commit status with the documented headers and body', async () => {
    gh.requests.length = 0;
    await client.setCommitStatus(REPO, SHA, { state: 'pending', description: 'Building preview…', targetUrl: 'http://12.preview.test/' });
    const [req] = gh.requests;
    assert.equal(req?.method, 'POST');
    assert.equal(req?.url, `/repos/${REPO}/statuses/${SHA}`);
    assert.equal(req?.status, 201);
    assert.equal(req?.headers.accept, 'application/vnd.github+json');
    assert.equal(req?.headers.authorization, `Bearer ${gh.token}`);
    assert.equal(req?.headers['x-github-api-version'], '2022-11-28');
    assert.ok(req?.headers['user-agent']);
    assert.deepEqual(req?.body, { state: 'pending', target_url: 'http://12.preview.test/', description: 'Building preview…', context: 'berth/preview' });

    for (const state of ['success', 'failure', 'error'] satisfies CommitState[]) {
      await client.setCommitStatus(REPO, SHA, { state, description: 'd'.repeat(300) });
    }
    const statuses = gh.statuses(REPO, SHA);
    assert.deepEqual(statuses.map((s) => s.state), ['pending', 'success', 'failure', 'error']);
    assert.equal(statuses[3]?.description?.length, 140, 'long descriptions are shortened, not refused');
    assert.equal(statuses[3]?.target_url, null);
  });

  it('keeps one comment per pull request: creates it, then updates it in place', async () => {
    const first = await client.upsertPrComment(REPO, 12, '⏳ Building preview of a1b2c3…');
    assert.equal(first.created, true);
    gh.addComment(REPO, 12, 'LGTM!', 'reviewer');
    const second = await client.upsertPrComment(REPO, 12, '✅ Preview live at http://12.preview.test/');
    assert.deepEqual([second.created, second.id], [false, first.id]);
    const comments = gh.comments(REPO, 12);
    assert.equal(comments.length, 2);
    assert.equal(comments[0]?.body, `${PREVIEW_COMMENT_MARKER}\n✅ Preview live at http://12.preview.test/`);
    assert.equal(comments[1]?.body, 'LGTM!');
    assert.equal(gh.requests.at(-1)?.method, 'PATCH');
    assert.equal(gh.requests.at(-1)?.url, `/repos/${REPO}/issues/comments/${first.id}`);

    // Same text again: found, nothing written.
    const before = gh.requests.length;
    await client.upsertPrComment(REPO, 12, '✅ Preview live at http://12.preview.test/');
    assert.deepEqual(gh.requests.slice(before).map((r) => r.method), ['GET']);
  });

  it('follows Link rel="next" pagination to find its comment on a later page', async () => {
    for (let i = 0; i < 230; i++) gh.addComment(REPO, 30, `comment ${i}`);
    const mine = gh.addComment(REPO, 30, `${PREVIEW_COMMENT_MARKER}\nold text`, 'berth-bot');
    for (let i = 0; i < 20; i++) gh.addComment(REPO, 30, `later ${i}`);
    const before = gh.requests.length;
    const res = await client.upsertPrComment(REPO, 30, 'new text');
    assert.deepEqual([res.created, res.id], [false, mine.id]);
    const seen = gh.requests.slice(before);
    assert.deepEqual(seen.map((r) => r.method), ['GET', 'GET', 'GET', 'PATCH']);
    assert.equal(seen[0]?.url, `/repos/${REPO}/issues/30/comments?per_page=100`);
    // GitHub's next links use /repositories/{id}/…: the client followed them as given.
    assert.match(seen[1]?.url ?? '', /^\/repositories\/\d+\/issues\/30\/comments\?per_page=100&page=2$/);
    assert.match(seen[2]?.url ?? '', /page=3$/);
    assert.equal(gh.comments(REPO, 30).find((c) => c.id === mine.id)?.body, `${PREVIEW_COMMENT_MARKER}\nnew text`);
  });

  it("never edits someone else's comment that carries the marker", async () => {
    const planted = gh.addComment(REPO, 40, `${PREVIEW_COMMENT_MARKER}\nI am not Berth`, 'mallory');
    const res = await client.upsertPrComment(REPO, 40, 'preview building');
    assert.equal(res.created, true);
    assert.notEqual(res.id, planted.id);
    assert.equal(gh.comments(REPO, 40)[0]?.body, `${PREVIEW_COMMENT_MARKER}\nI am not Berth`);
  });

  it('learns its login from the comment it creates when none is configured', async () => {
    const plain = new GithubClient({ token: gh.token, baseUrl: gh.url });
    const a = await plain.upsertPrComment(REPO, 50, 'one');
    gh.addComment(REPO, 51, `${PREVIEW_COMMENT_MARKER}\nplanted`, 'mallory');
    const b = await plain.upsertPrComment(REPO, 51, 'two');
    assert.equal(a.created, true);
    assert.equal(b.created, true, 'after learning its login, the client ignores foreign marker comments');
  });

  it('turns GitHub errors into E_GITHUB with GitHub’s message, without leaking the token', async () => {
    const wrong = new GithubClient({ token: 'ghp_wrongtoken', baseUrl: gh.url });
    await rejectsWith(wrong.setCommitStatus(REPO, SHA, { state: 'success', description: 'ok' }), (e) => {
      assert.match(e.message, /answered 401: Bad credentials/);
      assert.match(e.hint ?? '', /BERTH_GITHUB_TOKEN/);
      assert.doesNotMatch(e.message, /ghp_wrongtoken/);
      assert.equal(e.status, 502);
    });
    gh.failNext(1, 502, 'Server Error');
    await rejectsWith(client.upsertPrComment(REPO, 12, 'x'), (e) => assert.match(e.message, /GET \/repos\/octo-org\/app\/issues\/12\/comments answered 502/));
    await rejectsWith(client.setCommitStatus(REPO, SHA, { state: 'bogus' as CommitState, description: 'x' }), (e) =>
      assert.match(e.message, /answered 422: Invalid request\. For 'properties\/state'/),
    );
  });

  it('reports network failures and timeouts as E_GITHUB', async () => {
    const { server, url } = await listen(() => {
      /* never answers */
    });
    const slow = new GithubClient({ token: 't', baseUrl: url, timeoutMs: 100 });
    await rejectsWith(slow.setCommitStatus(REPO, SHA, { state: 'success', description: 'x' }), (e) => assert.match(e.message, /timed out after 100 ms/));
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const gone = new GithubClient({ token: 't', baseUrl: url });
    await rejectsWith(gone.setCommitStatus(REPO, SHA, { state: 'success', description: 'x' }), (e) => assert.match(e.message, /failed: .*ECONNREFUSED/));
  });

  it('refuses to follow a pagination link to another origin (the token would go with it)', async () => {
    const seenAuth: (string | undefined)[] = [];
    const other = await listen((req, res) => {
      seenAuth.push(req.headers.authorization);
      res.end('[]');
    });
    const evil = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', link: `<${other.url}/steal?page=2>; rel="next"` });
      res.end('[]');
    });
    const c = new GithubClient({ token: 'secret-token', baseUrl: evil.url });
    await rejectsWith(c.upsertPrComment(REPO, 1, 'x'), (e) => assert.match(e.message, /outside .*not following it/));
    assert.deepEqual(seenAuth, []);
    for (const s of [other.server, evil.server]) await new Promise((r) => s.close(r));
  });

  it('keeps a base path prefix (GitHub Enterprise /api/v3)', async () => {
    const paths: string[] = [];
    const ghe = await listen((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
    await new GithubClient({ token: 't', baseUrl: `${ghe.url}/api/v3/` }).setCommitStatus(REPO, SHA, { state: 'success', description: 'x' });
    assert.deepEqual(paths, [`/api/v3/repos/${REPO}/statuses/${SHA}`]);
    await new Promise((r) => ghe.server.close(r));
  });

  it('validates its own arguments before calling GitHub', async () => {
    await assert.rejects(client.setCommitStatus('../etc', SHA, { state: 'success', description: 'x' }), /not a repository name/);
    await assert.rejects(client.setCommitStatus(REPO, 'main', { state: 'success', description: 'x' }), /not a commit SHA/);
    await assert.rejects(client.upsertPrComment(REPO, 0, 'x'), /not a pull request number/);
    assert.throws(() => new GithubClient({ token: '' }), /token is required/);
  });
});

describe('nextLink', () => {
  it('parses RFC 8288 Link headers as GitHub sends them', () => {
    const h =
      '<https://api.github.com/repositories/1/issues/1/comments?page=1>; rel="prev", <https://api.github.com/repositories/1/issues/1/comments?page=3>; rel="next", <https://api.github.com/repositories/1/issues/1/comments?page=5>; rel="last"';
    assert.equal(nextLink(h), 'https://api.github.com/repositories/1/issues/1/comments?page=3');
    assert.equal(nextLink('<https://x/a?page=5>; rel="last"'), null);
    assert.equal(nextLink('<https://x/a?b=1,2>; rel="next"'), 'https://x/a?b=1,2');
    assert.equal(nextLink('<https://x/a>; rel="next last"'), 'https://x/a');
    assert.equal(nextLink(null), null);
    assert.equal(nextLink('garbage'), null);
  });
});
