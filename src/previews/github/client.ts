import { BerthError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { GIT_SHA_RE, REPO_FULL_NAME_RE } from './events.js';

/**
 * A minimal GitHub REST client for what previews report: a commit status on the head SHA and one
 * pull-request comment kept up to date. Plain `fetch`, no SDK. Every failure (HTTP error, network,
 * timeout) becomes BerthError('E_GITHUB') with GitHub's own message; the token never appears in
 * messages or logs. No retries here: callers run inside queue jobs, which retry as a whole, and
 * should treat reporting as best effort.
 */

export const DEFAULT_GITHUB_API_URL = 'https://api.github.com';
export const GITHUB_API_VERSION = '2022-11-28';
/** Hidden marker that identifies Berth's comment on a pull request. */
export const PREVIEW_COMMENT_MARKER = '<!-- berth-preview -->';
export const PREVIEW_STATUS_CONTEXT = 'berth/preview';

/** GitHub's limits: longer values are refused with 422, so they are shortened here. */
const MAX_STATUS_DESCRIPTION = 140;
const MAX_COMMENT_BODY = 65_536;
/** 30 pages × 100 comments; a PR with more is not worth more requests per update. */
const MAX_COMMENT_PAGES = 30;

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatusInput {
  state: CommitState;
  /** Link shown next to the status (the preview URL, or its build log). */
  targetUrl?: string | undefined;
  description: string;
  /** Defaults to `berth/preview`; a later status with the same context replaces the earlier one in GitHub's UI. */
  context?: string;
}

export interface GithubClientOptions {
  token: string;
  /** BERTH_GITHUB_API_URL; GitHub Enterprise uses `https://host/api/v3`. */
  baseUrl?: string | undefined;
  userAgent?: string;
  timeoutMs?: number;
  /**
   * Login that posts Berth's comments. When set, only its comments count as Berth's: anyone can
   * paste the marker into a comment, and a token with write access may edit other people's.
   * Without it, the client still remembers the login from comments it creates.
   */
  commentAuthor?: string | undefined;
  log?: Logger;
}

interface GithubComment {
  id: number;
  body?: string | null;
  html_url?: string;
  user?: { login?: string } | null;
}

export class GithubClient {
  private readonly base: URL;
  private readonly token: string;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private author: string | undefined;

  constructor(opts: GithubClientOptions) {
    if (!opts.token) throw new BerthError('E_CONFIG', 'a GitHub token is required to report previews', { hint: 'set BERTH_GITHUB_TOKEN' });
    // A trailing slash makes relative resolution keep a path prefix such as /api/v3.
    this.base = new URL(`${(opts.baseUrl ?? DEFAULT_GITHUB_API_URL).replace(/\/+$/, '')}/`);
    this.token = opts.token;
    this.userAgent = opts.userAgent ?? 'berth-preview';
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.author = opts.commentAuthor;
    this.log = opts.log;
  }

  /** POST /repos/{owner}/{repo}/statuses/{sha}. */
  async setCommitStatus(repo: string, sha: string, status: CommitStatusInput): Promise<void> {
    checkRepo(repo);
    if (!GIT_SHA_RE.test(sha)) throw new BerthError('E_BAD_REQUEST', `not a commit SHA: ${sha}`);
    await this.request('POST', `repos/${repoPath(repo)}/statuses/${sha}`, {
      state: status.state,
      ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
      description: truncate(status.description, MAX_STATUS_DESCRIPTION),
      context: status.context ?? PREVIEW_STATUS_CONTEXT,
    });
  }

  /**
   * Keeps ONE Berth comment on the pull request: updates the comment carrying the marker (the
   * oldest, if several), or creates it. `body` gets the marker prepended when missing. An update
   * whose text is unchanged sends nothing. Not safe against itself running twice at once for the
   * same PR (both may create); callers serialize per PR (the job queue does).
   */
  async upsertPrComment(repo: string, pr: number, body: string): Promise<{ id: number; created: boolean; url: string | null }> {
    checkRepo(repo);
    if (!Number.isSafeInteger(pr) || pr < 1) throw new BerthError('E_BAD_REQUEST', `not a pull request number: ${pr}`);
    const text = truncate(body.includes(PREVIEW_COMMENT_MARKER) ? body : `${PREVIEW_COMMENT_MARKER}\n${body}`, MAX_COMMENT_BODY);
    const existing = await this.findMarkedComment(repo, pr);
    if (existing) {
      if (existing.body !== text) {
        await this.request('PATCH', `repos/${repoPath(repo)}/issues/comments/${existing.id}`, { body: text });
      }
      return { id: existing.id, created: false, url: existing.html_url ?? null };
    }
    const { data } = await this.request<GithubComment>('POST', `repos/${repoPath(repo)}/issues/${pr}/comments`, { body: text });
    if (!this.author && data.user?.login) this.author = data.user.login;
    return { id: data.id, created: true, url: data.html_url ?? null };
  }

  /** Walks the PR's comments (following `Link: rel="next"`) for the first one Berth owns. */
  private async findMarkedComment(repo: string, pr: number): Promise<GithubComment | null> {
    let next: string | null = `repos/${repoPath(repo)}/issues/${pr}/comments?per_page=100`;
    for (let page = 0; next && page < MAX_COMMENT_PAGES; page++) {
      const res: { data: GithubComment[]; headers: Headers } = await this.request<GithubComment[]>('GET', next);
      if (!Array.isArray(res.data)) throw new BerthError('E_GITHUB', `GitHub listed comments of ${repo}#${pr} in an unexpected shape`);
      const mine = res.data.find(
        (c) => typeof c.body === 'string' && c.body.includes(PREVIEW_COMMENT_MARKER) && (!this.author || c.user?.login === this.author),
      );
      if (mine) return mine;
      next = nextLink(res.headers.get('link'));
    }
    if (next) this.log?.warn({ repo, pr }, 'gave up looking for the preview comment after many pages; creating a new one');
    return null;
  }

  /** One request; `target` is relative to the base URL, or an absolute URL GitHub gave us (pagination). */
  private async request<T>(method: string, target: string, body?: unknown): Promise<{ data: T; headers: Headers }> {
    const url = new URL(target, this.base);
    // Pagination links come from the server: never send the token to another origin or outside the API root.
    if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
      throw new BerthError('E_GITHUB', `GitHub pointed to ${url.origin}${url.pathname}, outside ${this.base.href}; not following it`);
    }
    const label = `${method} ${url.pathname}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${this.token}`,
          'x-github-api-version': GITHUB_API_VERSION,
          'user-agent': this.userAgent,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
        // Redirects are followed (GitHub redirects renamed repositories); fetch drops the
        // Authorization header on a cross-origin redirect.
      });
    } catch (err) {
      const why = err instanceof Error && err.name === 'TimeoutError' ? `timed out after ${this.timeoutMs} ms` : errorMessage(err);
      throw new BerthError('E_GITHUB', `GitHub ${label} failed: ${why}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw httpError(label, res, text);
    this.log?.debug({ request: label, status: res.status }, 'github request');
    try {
      return { data: (text ? JSON.parse(text) : null) as T, headers: res.headers };
    } catch (err) {
      throw new BerthError('E_GITHUB', `GitHub ${label} answered ${res.status} with a body that is not JSON`, { cause: err });
    }
  }
}

/** The `rel="next"` URL of an RFC 8288 Link header, or null. */
export function nextLink(header: string | null): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    const rel = m ? /\brel\s*=\s*"?([^";]+)"?/i.exec(m[2]!) : null;
    if (m && rel && rel[1]!.trim().split(/\s+/).includes('next')) return m[1]!;
  }
  return null;
}

function httpError(label: string, res: Response, text: string): BerthError {
  let message = text.slice(0, 300) || res.statusText;
  try {
    const json = JSON.parse(text) as { message?: unknown; errors?: { message?: unknown; field?: unknown }[] };
    if (typeof json.message === 'string') message = json.message.replace(/\s+/g, ' ').trim();
    const details = (json.errors ?? []).map((e) => (typeof e.message === 'string' ? e.message : String(e.field ?? ''))).filter(Boolean);
    if (details.length) message += ` (${details.join('; ')})`;
  } catch {
    // Not JSON (a proxy's HTML page): keep the text excerpt.
  }
  let hint: string | undefined;
  if (res.status === 401) hint = 'check BERTH_GITHUB_TOKEN';
  else if ((res.status === 403 || res.status === 429) && res.headers.get('x-ratelimit-remaining') === '0') {
    const reset = Number(res.headers.get('x-ratelimit-reset'));
    hint = `rate limited${Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : ''}`;
  } else if (res.status === 403 || res.status === 404) hint = 'the token needs access to the repository (statuses and pull requests: write)';
  return new BerthError('E_GITHUB', `GitHub ${label} answered ${res.status}: ${message}`, hint === undefined ? {} : { hint });
}

function checkRepo(repo: string): void {
  if (!REPO_FULL_NAME_RE.test(repo) || repo.split('/').some((s) => s === '.' || s === '..')) {
    throw new BerthError('E_BAD_REQUEST', `not a repository name (owner/name): ${repo}`);
  }
}

function repoPath(repo: string): string {
  return repo.split('/').map(encodeURIComponent).join('/');
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // undici hides the reason (ECONNREFUSED, …) in `cause`.
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
}
