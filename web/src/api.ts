/**
 * The dashboard's only door to Berth. Every URL is resolved against `document.baseURI`, which the
 * server sets to the outer prefix (`<base href="/berth/">`), so nothing here is absolute.
 * The CSRF token lives in memory only: it comes from login or `GET api/auth/me`.
 */

export type Role = 'admin' | 'member';
export interface User {
  id: string;
  username: string;
  role: Role;
}
export interface Session {
  user: User;
  csrfToken: string | null;
}

export type WorkspaceState = 'creating' | 'running' | 'stopped' | 'failed';
export interface HostedPort {
  containerPort: number;
  hostPort: number;
  url: string;
  /** How the edge forwards `/hosted/{id}/{port}/…` (absent from older daemons). */
  prefix?: 'strip' | 'keep';
  label?: string | null;
  /** The public base path the app is told (`BERTH_BASE_PATH_<containerPort>`). */
  basePath?: string;
}
/** Who may open a workspace's apps: its owner (and admins), any signed-in user, or anyone. */
export type Visibility = 'private' | 'authenticated' | 'public';
/** Idle auto-stop as the API reports it (GET /api/workspaces/:id `idle`). */
export interface WorkspaceIdle {
  idleStop: string | null;
  idleStopMs: number | null;
  lastActiveAt: string | null;
  lastActiveReason: string | null;
  openSessions: number;
  idleStopAt: string | null;
}
export interface Workspace {
  id: string;
  name: string;
  state: WorkspaceState;
  visibility?: Visibility;
  idle?: WorkspaceIdle;
  owner?: string | null;
  reason: string | null;
  image: string;
  command: string[] | null;
  env: Record<string, string>;
  ports: HostedPort[];
  exitCode: number | null;
  /** Limits given at create; null: none. */
  cpus?: number | null;
  memoryMb?: number | null;
  /** CPU, memory and disk now (in `GET api/workspaces/:id`); null when not running. */
  usage?: {
    cpuPercent: number | null;
    cpuSeconds: number | null;
    memoryBytes: number;
    memoryLimitBytes: number | null;
    pids: number;
    diskBytes: number | null;
    sampledAt: string;
  } | null;
  createdAt: string;
  updatedAt: string;
}

/** An error answer of the API (`{"error":{"code","message","hint"}}`) or a transport failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called when a request answers 401 outside the auth routes (the session expired). */
export function setUnauthorizedHandler(fn: (() => void) | null): void {
  onUnauthorized = fn;
}

/** `api/workspaces` → absolute URL below the page's base (never `/api/…`). */
export function apiUrl(path: string): string {
  return new URL(path.replace(/^\/+/, ''), document.baseURI).toString();
}

/** Same as apiUrl with ws: / wss: for WebSockets. */
export function wsUrl(path: string): string {
  const u = new URL(apiUrl(path));
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

const SAFE = new Set(['GET', 'HEAD']);

/** Headers of a request: JSON accept, and the CSRF token on anything that changes state. */
export function requestHeaders(method: string, hasBody: boolean): Record<string, string> {
  const h: Record<string, string> = { accept: 'application/json' };
  if (hasBody) h['content-type'] = 'application/json';
  if (!SAFE.has(method) && csrfToken) h['x-csrf-token'] = csrfToken;
  return h;
}

/** Reads an error answer into an ApiError, whatever its shape. */
export async function errorOf(res: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: fall through to the status line
  }
  const err = (body as { error?: { code?: unknown; message?: unknown; hint?: unknown } } | null)?.error;
  if (err && typeof err.message === 'string') {
    return new ApiError(res.status, typeof err.code === 'string' ? err.code : `HTTP_${res.status}`, err.message, typeof err.hint === 'string' ? err.hint : undefined);
  }
  return new ApiError(res.status, `HTTP_${res.status}`, `${res.status} ${res.statusText || 'error'} from ${new URL(res.url || apiUrl('')).pathname}`);
}

/** fetch with the dashboard's conventions; answers the raw Response when it is ok. */
export async function request(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(apiUrl(path), {
      method,
      credentials: 'same-origin',
      headers: requestHeaders(method, body !== undefined),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...init,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'E_NETWORK', 'Berth did not answer (network error)', 'check that the daemon is running, then retry');
  }
  if (res.ok) return res;
  const e = await errorOf(res);
  if (res.status === 401 && !path.startsWith('api/auth/') && onUnauthorized) onUnauthorized();
  throw e;
}

/** A JSON call: the parsed answer, or undefined for 204. Throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** True when `GET path` answers 200 (feature detection for pages that come later). */
export async function available(path: string): Promise<boolean> {
  try {
    const res = await fetch(apiUrl(path), { credentials: 'same-origin', headers: { accept: 'application/json' } });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The current session, or null when there is none. */
export async function currentSession(): Promise<Session | null> {
  try {
    const s = await api<Session>('GET', 'api/auth/me');
    setCsrfToken(s.csrfToken ?? null);
    return { user: s.user, csrfToken: s.csrfToken ?? null };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function login(username: string, password: string): Promise<Session> {
  const s = await api<Session>('POST', 'api/auth/login', { username, password });
  setCsrfToken(s.csrfToken);
  return s;
}

export async function logout(): Promise<void> {
  try {
    await api<void>('POST', 'api/auth/logout');
  } finally {
    setCsrfToken(null);
  }
}
