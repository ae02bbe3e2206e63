import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signGithubPayload } from '../../src/previews/github/verify.js';

/**
 * A local stand-in for api.github.com on 127.0.0.1, speaking GitHub's wire format for exactly the
 * endpoints Berth calls: commit statuses and issue comments (list with Link pagination, create,
 * update). It checks requests the way GitHub does (credentials, User-Agent, API version, JSON
 * shape and allowed values → 401/403/400/422 with GitHub's error bodies), keeps state, and
 * records every request for assertions. Also builds and sends signed webhook deliveries.
 */

export const API_VERSION = '2022-11-28';
const DOCS = 'https://docs.github.com/rest';
const STATES = ['error', 'failure', 'pending', 'success'];

export interface FakeUser {
  login: string;
  id: number;
  type: 'User' | 'Bot';
}

export interface FakeStatus {
  id: number;
  state: string;
  description: string | null;
  target_url: string | null;
  context: string;
  created_at: string;
}

export interface FakeComment {
  id: number;
  body: string;
  user: FakeUser;
  created_at: string;
  updated_at: string;
}

export interface SeenRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or undefined when there was none. */
  body: unknown;
  /** What the fake answered. */
  status: number;
}

export interface GithubFakeOptions {
  /** Token the fake accepts (`Authorization: Bearer <token>` or `token <token>`). */
  token?: string;
  /** Login of the token's user; authors the comments the client creates. */
  login?: string;
  /** Only these `owner/name` exist (others → 404). Default: any repository exists. */
  repos?: string[];
}

export interface GithubFake {
  /** Base URL, e.g. http://127.0.0.1:41234 (what BERTH_GITHUB_API_URL would be). */
  url: string;
  token: string;
  login: string;
  /** Every request in arrival order. */
  requests: SeenRequest[];
  /** Statuses posted for a commit, oldest first. */
  statuses(repo: string, sha: string): FakeStatus[];
  /** Comments on an issue or pull request, oldest first. */
  comments(repo: string, issue: number): FakeComment[];
  /** Seeds a comment, e.g. one by another user or an old Berth comment. */
  addComment(repo: string, issue: number, body: string, login?: string): FakeComment;
  /** The next `count` API requests fail with `status` and GitHub's error body (e.g. 502, 403 rate limit). */
  failNext(count: number, status: number, message?: string): void;
  close(): Promise<void>;
}

interface RepoState {
  id: number;
  fullName: string;
  statuses: Map<string, FakeStatus[]>;
  comments: Map<number, FakeComment[]>;
}

/** Starts the fake on an ephemeral loopback port. */
export async function startGithubFake(opts: GithubFakeOptions = {}): Promise<GithubFake> {
  const token = opts.token ?? `ghp_${randomUUID().replaceAll('-', '')}`;
  const me: FakeUser = { login: opts.login ?? 'berth-bot', id: 4242, type: 'User' };
  const repos = new Map<string, RepoState>();
  const requests: SeenRequest[] = [];
  let nextId = 1000;
  let failures: { count: number; status: number; message: string } | null = null;

  const repoState = (fullName: string, create = true): RepoState | undefined => {
    const key = fullName.toLowerCase();
    let state = repos.get(key);
    if (!state && create && (!opts.repos || opts.repos.some((r) => r.toLowerCase() === key))) {
      state = { id: 500 + repos.size, fullName, statuses: new Map(), comments: new Map() };
      repos.set(key, state);
    }
    return state;
  };
  for (const r of opts.repos ?? []) repoState(r);
  const repoById = (id: number): RepoState | undefined => [...repos.values()].find((r) => r.id === id);
  const issueComments = (repo: RepoState, issue: number): FakeComment[] => {
    let list = repo.comments.get(issue);
    if (!list) repo.comments.set(issue, (list = []));
    return list;
  };

  let base = '';
  const server = createServer((req, res) => {
    void readBody(req).then((raw) => {
      const seen: SeenRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: undefined, status: 0 };
      requests.push(seen);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        seen.status = status;
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3', ...headers });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      const error = (status: number, message: string, extra: Record<string, unknown> = {}): void =>
        send(status, { message, documentation_url: DOCS, status: String(status), ...extra });
      const validation = (resource: string, field: string, message: string): void =>
        error(422, 'Validation Failed', { errors: [{ resource, code: 'custom', field, message }] });

      // GitHub rejects requests without a User-Agent before looking at anything else.
      if (!req.headers['user-agent']) {
        return error(403, 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header');
      }
      const version = req.headers['x-github-api-version'];
      if (version !== undefined && version !== API_VERSION) return error(400, `API version ${String(version)} is not supported.`);
      const auth = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '');
      if (!auth) return error(401, 'Requires authentication');
      if (auth[1] !== token) return error(401, 'Bad credentials');
      if (failures && failures.count > 0) {
        failures.count--;
        return error(failures.status, failures.message);
      }
      if (raw.length > 0) {
        try {
          seen.body = JSON.parse(raw.toString('utf8'));
        } catch {
          return error(400, 'Problems parsing JSON');
        }
      }
      const body = (seen.body ?? {}) as Record<string, unknown>;
      const url = new URL(req.url ?? '/', base);
      const method = req.method ?? 'GET';
      const now = new Date().toISOString();
      let m: RegExpExecArray | null;

      if (method === 'POST' && (m = /^\/repos\/([^/]+\/[^/]+)\/statuses\/([^/]+)$/.exec(url.pathname))) {
        const repo = repoState(decodeURIComponent(m[1]!));
        if (!repo) return error(404, 'Not Found');
        const sha = decodeURIComponent(m[2]!);
        if (!/^[0-9a-f]{40}$/.test(sha)) return validation('Status', 'sha', `No commit found for SHA: ${sha}`);
        if (!('state' in body)) return error(422, 'Invalid request.\n\n"state" wasn\'t supplied.');
        if (typeof body.state !== 'string' || !STATES.includes(body.state)) {
          return error(422, `Invalid request.\n\nFor 'properties/state', ${JSON.stringify(body.state)} is not one of ${JSON.stringify(STATES)}.`);
        }
        for (const field of ['target_url', 'description', 'context'] as const) {
          const v = body[field];
          if (v !== undefined && v !== null && typeof v !== 'string') {
            return error(422, `Invalid request.\n\nFor 'properties/${field}', ${JSON.stringify(v)} is not a string or null.`);
          }
        }
        const description = (body.description as string | null | undefined) ?? null;
        if (description !== null && description.length > 140) {
          return validation('Status', 'description', 'description is too long (maximum is 140 characters)');
        }
        const status: FakeStatus = {
          id: nextId++,
          state: body.state,
          description,
          target_url: (body.target_url as string | null | undefined) ?? null,
          context: (body.context as string | null | undefined) ?? 'default',
          created_at: now,
        };
        const list = repo.statuses.get(sha) ?? [];
        list.push(status);
        repo.statuses.set(sha, list);
        return send(201, {
          url: `${base}/repos/${m[1]}/statuses/${sha}`,
          node_id: `SC_${status.id}`,
          ...status,
          updated_at: now,
          creator: me,
        });
      }

      // Listing: GitHub's own `next` links point at /repositories/{id}/…, so the fake does too;
      // a client that rebuilds URLs instead of following the link would miss them.
      if (
        method === 'GET' &&
        (m = /^\/(?:repos\/([^/]+\/[^/]+)|repositories\/(\d+))\/issues\/(\d+)\/comments$/.exec(url.pathname))
      ) {
        const repo = m[1] ? repoState(decodeURIComponent(m[1]), false) : repoById(Number(m[2]));
        if (!repo) return m[1] && !opts.repos ? send(200, []) : error(404, 'Not Found');
        const perPage = clampInt(url.searchParams.get('per_page'), 30, 1, 100);
        const page = clampInt(url.searchParams.get('page'), 1, 1, Number.MAX_SAFE_INTEGER);
        const all = issueComments(repo, Number(m[3]));
        const lastPage = Math.max(1, Math.ceil(all.length / perPage));
        const links: string[] = [];
        const link = (p: number, rel: string): string =>
          `<${base}/repositories/${repo.id}/issues/${m![3]}/comments?per_page=${perPage}&page=${p}>; rel="${rel}"`;
        if (page > 1) links.push(link(page - 1, 'prev'));
        if (page < lastPage) links.push(link(page + 1, 'next'), link(lastPage, 'last'));
        if (page > 1) links.push(link(1, 'first'));
        const slice = all.slice((page - 1) * perPage, page * perPage).map((c) => commentJson(base, repo.fullName, Number(m![3]), c));
        return send(200, slice, links.length ? { link: links.join(', ') } : {});
      }

      if (method === 'POST' && (m = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname))) {
        const repo = repoState(decodeURIComponent(m[1]!));
        if (!repo) return error(404, 'Not Found');
        const problem = commentBodyProblem(body);
        if (problem) return problem === 'too-long' ? validation('IssueComment', 'body', 'Body is too long (maximum is 65536 characters)') : error(422, problem);
        const comment: FakeComment = { id: nextId++, body: body.body as string, user: me, created_at: now, updated_at: now };
        issueComments(repo, Number(m[2])).push(comment);
        return send(201, commentJson(base, m[1]!, Number(m[2]), comment));
      }

      if (method === 'PATCH' && (m = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname))) {
        const repo = repoState(decodeURIComponent(m[1]!), false);
        const id = Number(m[2]);
        const found = repo && [...repo.comments.entries()].flatMap(([issue, list]) => list.map((c) => ({ issue, c }))).find((x) => x.c.id === id);
        if (!found) return error(404, 'Not Found');
        // Like GitHub, a token with write access may edit anyone's comment: the client must pick the right one.
        const problem = commentBodyProblem(body);
        if (problem) return problem === 'too-long' ? validation('IssueComment', 'body', 'Body is too long (maximum is 65536 characters)') : error(422, problem);
        found.c.body = body.body as string;
        found.c.updated_at = now;
        return send(200, commentJson(base, m[1]!, found.issue, found.c));
      }

      return error(404, 'Not Found');
    }, (err: unknown) => {
      res.writeHead(500).end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    token,
    login: me.login,
    requests,
    statuses: (repo, sha) => [...(repoState(repo, false)?.statuses.get(sha) ?? [])],
    comments: (repo, issue) => {
      const state = repoState(repo, false);
      return state ? [...issueComments(state, issue)] : [];
    },
    addComment: (repo, issue, body, login = 'someone-else') => {
      const state = repoState(repo);
      if (!state) throw new Error(`fake: repository ${repo} does not exist`);
      const now = new Date().toISOString();
      const user: FakeUser = login === me.login ? me : { login, id: 7000 + nextId, type: 'User' };
      const comment: FakeComment = { id: nextId++, body, user, created_at: now, updated_at: now };
      issueComments(state, issue).push(comment);
      return comment;
    },
    failNext: (count, status, message = 'Server Error') => {
      failures = { count, status, message };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function commentJson(base: string, repo: string, issue: number, c: FakeComment): Record<string, unknown> {
  return {
    url: `${base}/repos/${repo}/issues/comments/${c.id}`,
    html_url: `https://github.com/${repo}/pull/${issue}#issuecomment-${c.id}`,
    issue_url: `${base}/repos/${repo}/issues/${issue}`,
    id: c.id,
    node_id: `IC_${c.id}`,
    user: c.user,
    created_at: c.created_at,
    updated_at: c.updated_at,
    author_association: 'MEMBER',
    body: c.body,
  };
}

/** GitHub's answer to a bad comment body: a message for 422, 'too-long', or null when fine. */
function commentBodyProblem(body: Record<string, unknown>): string | null {
  if (!('body' in body)) return 'Invalid request.\n\n"body" wasn\'t supplied.';
  if (typeof body.body !== 'string') return `Invalid request.\n\nFor 'properties/body', ${JSON.stringify(body.body)} is not a string.`;
  if (body.body.length > 65536) return 'too-long';
  return null;
}

function clampInt(value: string | null, fallback: number, min: number, max: number): number {
  const n = value === null ? NaN : Number.parseInt(value, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---- webhook deliveries -------------------------------------------------------------------------

export interface PullRequestPayloadOptions {
  action: string;
  repo?: string;
  pr?: number;
  sha?: string;
  ref?: string;
  author?: string;
  association?: string;
  /** Head repository `owner/name`; null = a deleted fork. Default: the base repository. */
  headRepo?: string | null;
  cloneUrl?: string;
  private?: boolean;
  merged?: boolean;
}

/** A `pull_request` payload shaped like GitHub's (trimmed to the fields that matter, plus some that don't). */
export function pullRequestPayload(o: PullRequestPayloadOptions): Record<string, unknown> {
  const repo = o.repo ?? 'octo-org/app';
  const pr = o.pr ?? 1;
  const cloneUrl = o.cloneUrl ?? `https://github.com/${repo}.git`;
  const headRepo = o.headRepo === undefined ? repo : o.headRepo;
  const repository = { id: 1296269, name: repo.split('/')[1], full_name: repo, private: o.private ?? false, clone_url: cloneUrl, default_branch: 'main' };
  return {
    action: o.action,
    number: pr,
    pull_request: {
      url: `https://api.github.com/repos/${repo}/pulls/${pr}`,
      number: pr,
      state: o.action === 'closed' ? 'closed' : 'open',
      title: 'Add a feature',
      merged: o.merged ?? false,
      draft: false,
      user: { login: o.author ?? 'octocat', id: 1, type: 'User' },
      author_association: o.association ?? 'MEMBER',
      head: {
        label: `${(headRepo ?? 'ghost/x').split('/')[0]}:${o.ref ?? 'feature'}`,
        ref: o.ref ?? 'feature',
        sha: o.sha ?? 'a'.repeat(40),
        repo: headRepo === null ? null : { full_name: headRepo, private: false, clone_url: `https://github.com/${headRepo}.git` },
      },
      base: { label: `${repo.split('/')[0]}:main`, ref: 'main', sha: 'b'.repeat(40), repo: repository },
    },
    repository,
    sender: { login: o.author ?? 'octocat', id: 1, type: 'User' },
  };
}

/** A repository hook's `ping` payload. */
export function pingPayload(repo = 'octo-org/app'): Record<string, unknown> {
  return {
    zen: 'Design for failure.',
    hook_id: 42,
    hook: { type: 'Repository', id: 42, events: ['pull_request'], config: { content_type: 'json', insecure_ssl: '0' } },
    repository: { id: 1296269, full_name: repo, private: false, clone_url: `https://github.com/${repo}.git` },
  };
}

export interface DeliveryOptions {
  event: string;
  payload: unknown;
  secret: string;
  /** X-GitHub-Delivery; a fresh UUID by default (reuse one to simulate a redelivery). */
  deliveryId?: string;
  /** Overrides X-Hub-Signature-256 (null = omit it), to test rejections. */
  signature?: string | null;
}

/** POSTs a delivery the way GitHub's hookshot does: raw JSON, both signature headers, event and delivery ids. */
export async function sendWebhook(url: string, o: DeliveryOptions): Promise<Response & { deliveryId: string }> {
  const raw = JSON.stringify(o.payload);
  const deliveryId = o.deliveryId ?? randomUUID();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'GitHub-Hookshot/berth-test',
    'x-github-event': o.event,
    'x-github-delivery': deliveryId,
    'x-github-hook-id': '42',
    'x-hub-signature': `sha1=${createHmac('sha1', o.secret).update(raw).digest('hex')}`,
  };
  const signature = o.signature === undefined ? signGithubPayload(raw, o.secret) : o.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  const res = await fetch(url, { method: 'POST', headers, body: raw });
  return Object.assign(res, { deliveryId });
}
