import { execFile } from 'node:child_process';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError } from '../errors.js';
import type { Runtime, WorkloadRef } from '../runtime/runtime.js';
import { PREVIEW_CONFIG_FILE, checkPreviewConfig, type Healthcheck, type PreviewConfig } from './config.schema.js';
import { refuseEscapingLinks } from './checkout-links.js';
import { GIT_SHA_RE } from './github/events.js';
import { checkCloneUrl, gitRefProblem } from './git-input.js';

/**
 * The I/O steps of building a preview generation: fetch the PR head into a directory with `git`
 * (argv only, no shell; the token travels in an `http.extraheader` set through GIT_CONFIG_* env,
 * never in argv or the URL), read `berth.preview.yaml`, write the env file, wait for health.
 * Everything a step prints goes to the build log, which the API serves.
 */

const GIT_TIMEOUT_MS = 5 * 60_000;
const MAX_OUTPUT = 10 * 1024 * 1024;

export interface GitOptions {
  /** Allows `file://` URLs (BERTH_ALLOW_FILE_REPOS, tests only). */
  allowFile: boolean;
  /** GitHub token for private repositories (sent only to https URLs). */
  token?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Appends timestamped lines to a build log file. */
export class BuildLog {
  constructor(readonly file: string) {}
  async line(text: string): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true });
    await appendFile(this.file, `[${new Date().toISOString()}] ${text.replace(/\n+$/, '')}\n`, { mode: 0o600 });
  }
  async raw(text: string): Promise<void> {
    if (text.trim()) await appendFile(this.file, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
  }
}

/** A clone URL as messages and logs show it: without credentials or query. */
function shownUrl(url: URL): string {
  return url.protocol === 'file:' ? url.href : url.origin + url.pathname;
}

function gitEnv(url: URL, opts: GitOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ALLOW_PROTOCOL: opts.allowFile ? 'https:http:file' : 'https:http',
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
  };
  if (opts.token && url.protocol === 'https:') {
    const basic = Buffer.from(`x-access-token:${opts.token}`).toString('base64');
    Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraheader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
  }
  return env;
}

/**
 * Text with the user and password of every URL in it removed. Build logs and build errors are read
 * by every logged-in user, and a clone URL may carry credentials (`https://user:token@host/…`).
 */
export function withoutUserinfo(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/gi, '$1');
}

function git(args: string[], cwd: string, env: NodeJS.ProcessEnv, log: BuildLog, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env, timeout: GIT_TIMEOUT_MS, maxBuffer: MAX_OUTPUT, signal }, (err, stdout, stderr) => {
      void log.raw(withoutUserinfo(`$ git ${args.join(' ')}\n${stdout}${stderr}`)).then(() => {
        if (err) reject(new BerthError('E_PREVIEW_BUILD', `git ${args[0]} failed: ${withoutUserinfo((stderr || err.message).trim().split('\n').slice(-3).join(' '))}`, { cause: err }));
        else resolve(stdout);
      });
    });
  });
}

/**
 * Fetches commit `sha` of `cloneUrl` into `dir` (emptied first) and checks it out detached.
 * Tries the SHA itself (GitHub and protocol v2 servers allow it), then `refs/pull/{pr}/head`,
 * then every branch. The checkout is refused when a symlink in it leaves the repository.
 * git's argv: the URL is the parsed `href` after `--`; the SHA is 40/64 hex digits (it cannot
 * follow `--` in `checkout`, where `--` starts paths); the PR number is a positive integer.
 */
export async function checkoutCommit(cloneUrl: string, sha: string, pr: number, dir: string, log: BuildLog, opts: GitOptions): Promise<void> {
  if (!GIT_SHA_RE.test(sha)) throw new BerthError('E_BAD_REQUEST', `not a commit SHA: ${JSON.stringify(sha.slice(0, 80))}`);
  if (!Number.isSafeInteger(pr) || pr < 1) throw new BerthError('E_BAD_REQUEST', `not a pull request number: ${pr}`);
  const url = checkCloneUrl(cloneUrl, opts.allowFile);
  const env = gitEnv(url, opts);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await log.line(`fetching ${sha} from ${shownUrl(url)}`);
  await git(['init', '--quiet', '--initial-branch=preview'], dir, env, log, opts.signal);
  await git(['remote', 'add', '--', 'origin', url.href], dir, env, log, opts.signal);
  const attempts = [['--depth=1', '--', 'origin', sha], ['--', 'origin', `+refs/pull/${pr}/head:refs/remotes/origin/pr`], ['--', 'origin', '+refs/heads/*:refs/remotes/origin/*']];
  let lastError: unknown = null;
  for (const a of attempts) {
    try {
      await git(['fetch', '--quiet', '--no-tags', ...a], dir, env, log, opts.signal);
      await git(['checkout', '--quiet', '--detach', sha], dir, env, log, opts.signal);
      lastError = null;
      break;
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      lastError = err;
    }
  }
  if (lastError !== null) throw lastError instanceof BerthError ? lastError : new BerthError('E_PREVIEW_BUILD', `cannot fetch ${sha}`, { cause: lastError });
  // Before berth.preview.yaml is read, .preview.env written or a build context used.
  await refuseEscapingLinks(dir);
}

/** Resolves a branch or tag name to its commit SHA with `git ls-remote` (for manual previews). */
export async function resolveRef(cloneUrl: string, ref: string, opts: GitOptions): Promise<string> {
  if (GIT_SHA_RE.test(ref)) return ref;
  const bad = gitRefProblem(ref);
  if (bad) throw new BerthError('E_BAD_REQUEST', bad, { hint: 'give a branch name, a tag or a commit SHA' });
  const url = checkCloneUrl(cloneUrl, opts.allowFile);
  const out = await new Promise<string>((resolve, reject) => {
    execFile('git', ['ls-remote', '--', url.href, ref], { env: gitEnv(url, opts), timeout: 60_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const words = stderr.split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 2).join(' ') || err.message;
      reject(new BerthError('E_BAD_REQUEST', `git ls-remote ${shownUrl(url)} failed: ${words}`, { hint: 'check the repository and its clone URL: the daemon must be able to fetch it' }));
    });
  });
  const lines = out.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  const hit = lines.find(([, name]) => name === `refs/heads/${ref}`) ?? lines.find(([, name]) => name === ref || name === `refs/tags/${ref}`) ?? lines[0];
  if (!hit || !GIT_SHA_RE.test(hit[0])) throw new BerthError('E_NOT_FOUND', `no branch or tag ${ref} in ${shownUrl(url)}`, { hint: 'push the branch first, or give a commit SHA' });
  return hit[0];
}

/** Reads and validates `berth.preview.yaml` of a checkout; a missing or invalid file is E_PREVIEW_CONFIG_INVALID. */
export async function readPreviewConfig(dir: string): Promise<PreviewConfig> {
  let text: string;
  try {
    text = await readFile(path.join(dir, PREVIEW_CONFIG_FILE), 'utf8');
  } catch {
    throw new BerthError('E_PREVIEW_CONFIG_INVALID', `${PREVIEW_CONFIG_FILE} not found in the repository root`, {
      hint: `add a ${PREVIEW_CONFIG_FILE} describing the services to run`,
    });
  }
  const result = checkPreviewConfig(text);
  if (!result.ok) throw new BerthError('E_PREVIEW_CONFIG_INVALID', result.message);
  return result.config;
}

/** `KEY=value` lines (values on one line; newlines are refused). Written 0600. */
export async function writeEnvFile(file: string, env: Record<string, string>): Promise<void> {
  const lines = Object.entries(env).map(([k, v]) => {
    if (/[\r\n\0]/.test(v)) throw new BerthError('E_PREVIEW_CONFIG_INVALID', `env ${k} contains a line break`);
    return `${k}=${v}`;
  });
  await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
}

/**
 * Waits until a service answers its healthcheck (http: a status below 500 is not enough — 2xx/3xx;
 * command: exit 0; none: any HTTP answer on `/` when the service has a port). Fails fast when the
 * workload exits.
 */
export async function waitHealthy(
  runtime: Runtime,
  ref: WorkloadRef,
  target: { host: string; port: number | null },
  check: Healthcheck | null,
  signal?: AbortSignal,
): Promise<void> {
  const hc: Healthcheck | null = check ?? (target.port === null ? null : { kind: 'http', path: '/', intervalMs: 250, timeoutMs: 2000, retries: 240 });
  const deadlineTries = hc?.retries ?? 1;
  let last = 'no answer';
  for (let attempt = 1; attempt <= deadlineTries; attempt++) {
    signal?.throwIfAborted();
    const status = await runtime.inspect(ref);
    if (status.state !== 'running') throw new BerthError('E_PREVIEW_BUILD', `exited with code ${status.exitCode ?? '?'} before it was healthy`);
    if (!hc) return;
    if (hc.kind === 'http') {
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      try {
        const res = await fetch(`http://${host}:${target.port}${hc.path}`, { signal: AbortSignal.timeout(hc.timeoutMs), redirect: 'manual' });
        await res.body?.cancel();
        if ((check === null && res.status > 0) || (res.status >= 200 && res.status < 400)) return;
        last = `HTTP ${res.status}`;
      } catch (err) {
        last = (err as Error).message;
      }
    } else {
      const res = await runtime.exec(ref, hc.command);
      if (res.kind === 'result' && res.exitCode === 0) return;
      last = res.kind === 'result' ? `exit ${res.exitCode}: ${res.stderr.trim().slice(0, 200)}` : 'interactive exec';
    }
    await sleep(hc.intervalMs, undefined, signal ? { signal } : undefined);
  }
  throw new BerthError('E_PREVIEW_BUILD', `not healthy after ${deadlineTries} checks (last: ${last})`);
}
