/**
 * `/llm/` spends the operator's key only for workloads and users (issue 11, item 5). A real local
 * HTTP server stands in for the LLM provider (a third-party SaaS) and records what reaches it; a
 * real daemon with the process runtime runs the workspaces, so the token is read from a real
 * workload's environment.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startTestDaemon, TEST_ADMIN_PASSWORD, type TestDaemon } from '../support/daemon.js';
import { startUpstream, type TestUpstream } from '../support/edge-harness.js';

const OPERATOR_KEY = 'sk-operator-secret-key';

interface LlmAnswer {
  status: number;
  body: any;
  headers: Headers;
}

async function llm(t: TestDaemon, urlPath: string, headers: Record<string, string> = {}): Promise<LlmAnswer> {
  const res = await fetch(`${t.daemon.url}/llm${urlPath}`, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body, headers: res.headers };
}

/** The workload's own environment, read by running `env` inside it. */
async function workloadEnv(t: TestDaemon, wsId: string): Promise<Record<string, string>> {
  const r = await t.daemon.workspaces.exec(wsId, ['env'], {});
  assert.equal(r.kind, 'result');
  if (r.kind !== 'result') throw new Error('unreachable');
  return Object.fromEntries(r.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

async function createWorkspace(t: TestDaemon, name: string): Promise<{ id: string; env: Record<string, string> }> {
  const created = await t.api('POST', '/api/workspaces', { name });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.id, env: await workloadEnv(t, created.body.id) };
}

async function login(t: TestDaemon): Promise<string> {
  const res = await fetch(`${t.daemon.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
  });
  assert.equal(res.status, 200);
  return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
}

async function metrics(t: TestDaemon): Promise<string> {
  const res = await fetch(`${t.daemon.url}/metrics`, { headers: { authorization: `Bearer ${t.daemon.token}` } });
  return res.text();
}

describe('/llm/ for workloads and users only', () => {
  let provider: TestUpstream;
  let t: TestDaemon;

  before(async () => {
    provider = await startUpstream();
    t = await startTestDaemon({ llmBaseUrl: `http://127.0.0.1:${provider.port}/v1`, llmApiKey: OPERATOR_KEY });
  });
  after(async () => {
    await t?.stop();
    await provider?.close();
  });

  it('anonymous and unknown credentials get 401 JSON and the provider sees nothing', async () => {
    const before = provider.requests.length;
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer berth_llm_forged' },
      { authorization: 'Bearer sk-anything' },
      { authorization: 'Basic YWRtaW46eA==' },
      { cookie: 'berth_session=nope' },
      { cookie: 'berth_session=%zz' },
    ];
    for (const headers of attempts) {
      const res = await llm(t, '/models', headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(res.body.error.code, 'E_UNAUTHORIZED');
    }
    assert.equal(provider.requests.length, before, 'a refused request reached the provider');
  });

  it("a workspace's token is in its environment (never the operator key) and is swapped for the key upstream", async () => {
    const ws = await createWorkspace(t, 'llm-a');
    const token = ws.env.BERTH_LLM_TOKEN!;
    assert.match(token, /^berth_llm_/);
    assert.equal(ws.env.BERTH_LLM_BASE_URL, `${t.daemon.url}/llm`);
    assert.ok(!Object.values(ws.env).some((v) => v.includes(OPERATOR_KEY)), 'the operator key is in the workload env');

    // Only a hash is stored.
    const db = new Database(path.join(t.dataDir, 'berth.db'), { readonly: true });
    const dump = JSON.stringify(db.prepare('SELECT * FROM workspace_llm_tokens').all());
    db.close();
    assert.ok(!dump.includes(token), 'token stored in clear');

    const res = await llm(t, '/models?x=1', { authorization: `Bearer ${token}`, cookie: `berth_session=abc; other=1` });
    assert.equal(res.status, 200);
    const seen = provider.requests.at(-1)!;
    assert.equal(seen.url, '/v1/models?x=1');
    assert.equal(seen.headers.authorization, `Bearer ${OPERATOR_KEY}`);
    assert.ok(!JSON.stringify(seen.headers).includes(token), 'the workspace token reached the provider');
    assert.equal(seen.headers.cookie, undefined);
  });

  it('the workload itself reaches the provider with its env (BERTH_LLM_BASE_URL + BERTH_LLM_TOKEN)', async () => {
    const ws = await createWorkspace(t, 'llm-b');
    const script = "fetch(process.env.BERTH_LLM_BASE_URL + '/chat', { headers: { authorization: 'Bearer ' + process.env.BERTH_LLM_TOKEN } }).then((r) => console.log(r.status))";
    const r = await t.daemon.workspaces.exec(ws.id, [process.execPath, '-e', script], {});
    assert.equal(r.kind === 'result' && r.stdout.trim(), '200');
    assert.equal(provider.requests.at(-1)!.headers.authorization, `Bearer ${OPERATOR_KEY}`);
  });

  it('rotating revokes the old token at once; deleting the workspace revokes its token', async () => {
    const ws = await createWorkspace(t, 'llm-c');
    const old = ws.env.BERTH_LLM_TOKEN!;
    assert.equal((await llm(t, '/models', { authorization: `Bearer ${old}` })).status, 200);
    const rotated = await t.api('POST', `/api/workspaces/${ws.id}/llm-token`);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const fresh = rotated.body.token as string;
    assert.match(fresh, /^berth_llm_/);
    assert.notEqual(fresh, old);
    assert.equal((await llm(t, '/models', { authorization: `Bearer ${old}` })).status, 401);
    assert.equal((await llm(t, '/models', { authorization: `Bearer ${fresh}` })).status, 200);

    assert.equal((await t.api('DELETE', `/api/workspaces/${ws.id}`)).status, 204);
    const before = provider.requests.length;
    const gone = await llm(t, '/models', { authorization: `Bearer ${fresh}` });
    assert.equal(gone.status, 401);
    assert.equal(gone.body.error.code, 'E_UNAUTHORIZED');
    assert.equal(provider.requests.length, before);
  });

  it('`berth ws llm-token` rotates and prints the new credential as env lines', async () => {
    const ws = await createWorkspace(t, 'llm-cli');
    const cli = path.resolve(import.meta.dirname, '../../src/cli/index.ts');
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BERTH_URL: t.daemon.url, BERTH_DATA_DIR: t.dataDir };
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, 'ws', 'llm-token', 'llm-cli'], { env });
    const lines = Object.fromEntries(stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.equal(lines.BERTH_LLM_BASE_URL, `${t.daemon.url}/llm`);
    assert.match(lines.BERTH_LLM_TOKEN!, /^berth_llm_/);
    assert.equal((await llm(t, '/models', { authorization: `Bearer ${lines.BERTH_LLM_TOKEN}` })).status, 200);
    assert.equal((await llm(t, '/models', { authorization: `Bearer ${ws.env.BERTH_LLM_TOKEN}` })).status, 401);
  });

  it("a user's API token and a same-origin session work; a cross-site session does not; neither is forwarded", async () => {
    const readOnly = await t.api('POST', '/api/tokens', { name: 'llm-reader', scopes: ['read'] });
    const refused = await llm(t, '/models', { authorization: `Bearer ${readOnly.body.token}` });
    assert.equal(refused.status, 403, 'a read-only token spent the key');
    assert.equal(refused.body.error.code, 'E_FORBIDDEN');
    const created = await t.api('POST', '/api/tokens', { name: 'llm-user', scopes: ['read', 'write'] });
    assert.equal(created.status, 201);
    const apiToken = created.body.token as string;
    const viaToken = await llm(t, '/models', { authorization: `Bearer ${apiToken}` });
    assert.equal(viaToken.status, 200);
    assert.equal(provider.requests.at(-1)!.headers.authorization, `Bearer ${OPERATOR_KEY}`);

    const cookie = await login(t);
    const sameOrigin = await llm(t, '/models', { cookie, 'sec-fetch-site': 'same-origin', origin: t.daemon.url });
    assert.equal(sameOrigin.status, 200);
    const seen = provider.requests.at(-1)!;
    assert.equal(seen.headers.cookie, undefined);
    assert.equal(seen.headers.authorization, `Bearer ${OPERATOR_KEY}`);

    const before = provider.requests.length;
    const crossSite = await llm(t, '/models', { cookie, 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' });
    assert.equal(crossSite.status, 401);
    const otherOrigin = await llm(t, '/models', { cookie, origin: 'https://evil.example' });
    assert.equal(otherOrigin.status, 401);
    assert.equal(provider.requests.length, before);
  });

  it('/metrics counts /llm/ requests per workspace and status', async () => {
    const ws = await createWorkspace(t, 'llm-d');
    const token = ws.env.BERTH_LLM_TOKEN!;
    for (let i = 0; i < 3; i++) assert.equal((await llm(t, '/models', { authorization: `Bearer ${token}` })).status, 200);
    const text = await metrics(t);
    assert.match(text, new RegExp(`berth_llm_requests_total\\{status="200",workspace="${ws.id}"\\} 3`));
    assert.match(text, /berth_llm_requests_total\{status="401",workspace=""\} [1-9]/);
  });
});

describe('/llm/ rate limit per workspace (BERTH_LLM_RATE_LIMIT)', () => {
  let provider: TestUpstream;
  let t: TestDaemon;

  before(async () => {
    provider = await startUpstream();
    t = await startTestDaemon({ llmBaseUrl: `http://127.0.0.1:${provider.port}`, llmApiKey: OPERATOR_KEY, llmRateLimit: 3 });
  });
  after(async () => {
    await t?.stop();
    await provider?.close();
  });

  it('answers 429 with Retry-After past the limit, per workspace, without reaching the provider', async () => {
    const a = await createWorkspace(t, 'rl-a');
    const b = await createWorkspace(t, 'rl-b');
    const auth = (ws: { env: Record<string, string> }) => ({ authorization: `Bearer ${ws.env.BERTH_LLM_TOKEN}` });
    for (let i = 0; i < 3; i++) assert.equal((await llm(t, '/models', auth(a))).status, 200);
    const before = provider.requests.length;
    const limited = await llm(t, '/models', auth(a));
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error.code, 'E_RATE_LIMITED');
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `retry-after ${retry}`);
    assert.equal(provider.requests.length, before);
    // Another workspace has its own budget.
    assert.equal((await llm(t, '/models', auth(b))).status, 200);
    assert.match(await metrics(t), new RegExp(`berth_llm_requests_total\\{status="429",workspace="${a.id}"\\} 1`));
  });
});
