/**
 * HTTP client the CLI uses to talk to the daemon. The CLI never touches the database: every
 * command goes through here (or, for `ws shell`, through a WebSocket built from the same
 * {@link ClientOptions}).
 *
 * Errors come out as {@link CliError}: an API answer `{"error":{"code","message","hint"?}}`
 * keeps its code and hint; a daemon that cannot be reached gets one clear sentence.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Default daemon port when neither `--url`, `BERTH_URL` nor `BERTH_PORT` say otherwise. */
export const DEFAULT_PORT = 8995;

/** An error the CLI prints as `error CODE: message` (+ `hint: …`) and exits with `exitCode`. */
export class CliError extends Error {
  readonly code: string | undefined;
  readonly hint: string | undefined;
  readonly exitCode: number;
  /** HTTP status when the daemon answered, undefined otherwise. */
  readonly status: number | undefined;

  constructor(message: string, opts: { code?: string; hint?: string; exitCode?: number; status?: number } = {}) {
    super(message);
    this.name = 'CliError';
    this.code = opts.code;
    this.hint = opts.hint;
    this.exitCode = opts.exitCode ?? 1;
    this.status = opts.status;
  }
}

/** Where the daemon is and how to authenticate; resolved once per CLI run. */
export interface ClientOptions {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:8995`. */
  url: string;
  /** Absolute path of the token file (`$BERTH_DATA_DIR/token`). */
  tokenPath: string;
}

/**
 * Daemon URL: the `--url` flag, else `BERTH_URL`, else `http://127.0.0.1:${BERTH_PORT ?? 8995}`.
 * Throws a usage error (exit 2) for something that is not an http(s) URL.
 */
export function resolveDaemonUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const raw = flag || env.BERTH_URL || `http://127.0.0.1:${env.BERTH_PORT || DEFAULT_PORT}`;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new CliError(`invalid daemon URL "${raw}"`, { hint: 'use a URL like http://127.0.0.1:8995', exitCode: 2 });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`invalid daemon URL "${raw}": only http and https are supported`, { exitCode: 2 });
  }
  return raw.replace(/\/+$/, '');
}

/** `$BERTH_DATA_DIR/token`, the data dir defaulting to `./.berth` resolved against `cwd`. */
export function resolveTokenPath(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  return path.resolve(cwd, env.BERTH_DATA_DIR || './.berth', 'token');
}

/** Builds the client options from the global `--url` flag and the environment. */
export function clientOptions(flagUrl: string | undefined, env: NodeJS.ProcessEnv = process.env): ClientOptions {
  return { url: resolveDaemonUrl(flagUrl, env), tokenPath: resolveTokenPath(env) };
}

/** The token file's content, trimmed; undefined when the file does not exist or is empty. */
export function readToken(tokenPath: string): string | undefined {
  try {
    const token = readFileSync(tokenPath, 'utf8').trim();
    return token || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read the Berth token at ${tokenPath}: ${(err as Error).message}`, {
      hint: 'run the CLI as the user that started the daemon, or set BERTH_DATA_DIR',
    });
  }
}

/**
 * The error shown when the daemon does not answer at all. A refused connection needs no
 * detail; anything else (DNS failure, TLS problem, a port fetch refuses) is named in the hint.
 */
export function unreachableError(url: string, cause?: unknown): CliError {
  const detail = describeCause(cause);
  return new CliError(`cannot reach the Berth daemon at ${url} — start it with ./berth up`, {
    hint: detail && detail !== 'ECONNREFUSED' ? `cause: ${detail}` : undefined,
  });
}

/** The innermost system error code (`ECONNREFUSED`), else the innermost message. */
function describeCause(cause: unknown): string | undefined {
  let c: unknown = cause;
  let message: string | undefined;
  // fetch wraps the socket error: TypeError('fetch failed', { cause: Error{code:'ECONNREFUSED'} }).
  for (let i = 0; i < 4 && c instanceof Error; i++) {
    const code = (c as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    if (c.message && c.message !== 'fetch failed') message = c.message;
    c = c.cause;
  }
  return message;
}

/** What to do about a refused token, depending on whether the token file exists. */
export function tokenHint(tokenPath: string): string {
  return existsSync(tokenPath)
    ? `the token in ${tokenPath} was refused: set BERTH_DATA_DIR to the data directory of the daemon at this URL`
    : `there is no token at ${tokenPath}: run the CLI where the daemon was started, or set BERTH_DATA_DIR to its data directory`;
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; hint?: unknown };
}

/**
 * Turns a non-2xx answer into a {@link CliError}. `{"error":{…}}` bodies keep their code and
 * hint; anything else (a proxy's HTML page) becomes `daemon answered STATUS` with a short excerpt.
 */
export function errorFromResponse(status: number, statusText: string, bodyText: string, tokenPath?: string): CliError {
  let body: ErrorBody | undefined;
  try {
    body = JSON.parse(bodyText) as ErrorBody;
  } catch {
    body = undefined;
  }
  const e = body?.error;
  if (e && typeof e.message === 'string') {
    const code = typeof e.code === 'string' ? e.code : undefined;
    let hint = typeof e.hint === 'string' ? e.hint : undefined;
    // The CLI knows better than the API where its token came from.
    if (status === 401 && tokenPath) hint = tokenHint(tokenPath);
    return new CliError(e.message, { code, hint, status });
  }
  const excerpt = bodyText.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new CliError(`daemon answered ${status} ${statusText}`.trim(), {
    hint: excerpt || undefined,
    status,
  });
}

/** Options of one request. */
export interface RequestOptions {
  /** JSON body (sent with `content-type: application/json`). */
  body?: unknown;
  /** Send the bearer token (default true). */
  auth?: boolean;
  /** Accept header; default `application/json`. */
  accept?: string;
  signal?: AbortSignal;
}

/** Thin JSON-over-HTTP client bound to one daemon. */
export class BerthClient {
  readonly url: string;
  readonly tokenPath: string;
  private token: string | undefined | null = null;

  constructor(opts: ClientOptions) {
    this.url = opts.url;
    this.tokenPath = opts.tokenPath;
  }

  /** Headers carrying `Authorization: Bearer …` when the token file exists. */
  authHeaders(): Record<string, string> {
    if (this.token === null) this.token = readToken(this.tokenPath);
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /**
   * Sends a request and returns the raw response once it is known to be 2xx. Transport errors
   * become the "cannot reach" error; non-2xx answers become {@link errorFromResponse}.
   */
  async raw(method: string, apiPath: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { accept: opts.accept ?? 'application/json', ...(opts.auth === false ? {} : this.authHeaders()) };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let res: Response;
    try {
      res = await fetch(this.url + apiPath, { method, headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw unreachableError(this.url, err);
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw errorFromResponse(res.status, res.statusText, text, this.tokenPath);
    }
    return res;
  }

  /** A JSON call; resolves to the parsed body, or undefined for 204 / empty answers. */
  async json<T>(method: string, apiPath: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, apiPath, opts);
    const text = await res.text();
    if (res.status === 204 || text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`daemon answered ${method} ${apiPath} with something that is not JSON`, {
        hint: text.slice(0, 200),
      });
    }
  }

  /** `ws://` / `wss://` URL for `apiPath` on the daemon. */
  wsUrl(apiPath: string): string {
    return this.url.replace(/^http/, 'ws') + apiPath;
  }
}

/** `/api/workspaces/:idOrName` with the id or name escaped. */
export function workspacePath(idOrName: string, suffix = ''): string {
  return `/api/workspaces/${encodeURIComponent(idOrName)}${suffix}`;
}
