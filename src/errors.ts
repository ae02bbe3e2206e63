/**
 * The only error type that crosses layers. Services throw it with a stable `code`;
 * `api/error-handler.ts` is the one place that turns it into an HTTP response.
 */
export type ErrorCode =
  | 'E_BAD_REQUEST'
  | 'E_INVALID_NAME'
  | 'E_NOT_FOUND'
  | 'E_NAME_TAKEN'
  | 'E_PORTS_EXHAUSTED'
  | 'E_RUNTIME'
  | 'E_RUNTIME_UNAVAILABLE'
  | 'E_INVALID_STATE'
  | 'E_UNAUTHORIZED'
  | 'E_FORBIDDEN'
  | 'E_CONFIG'
  | 'E_DISK_FULL'
  | 'E_PAYLOAD_TOO_LARGE'
  | 'E_INTERNAL'
  | 'E_RATE_LIMITED'
  | 'E_CSRF'
  | 'E_CROSS_ORIGIN'
  | 'E_MANIFEST_INVALID'
  | 'E_APP_NOT_FOUND'
  | 'E_DEPENDENCY'
  | 'E_APP_NEEDS_DOMAIN'
  | 'E_INFRA'
  | 'E_INFRA_UNAVAILABLE'
  | 'E_INFRA_CONFLICT'
  | 'E_REDIS_DBS_EXHAUSTED'
  | 'E_APP_UNHEALTHY'
  | 'E_GITHUB'
  | 'E_PREVIEW_CONFIG_INVALID'
  | 'E_PREVIEW_BUILD'
  | 'E_DEVCONTAINER'
  | 'E_BACKUP'
  | 'E_BAD_DATA_PATH'
  | 'E_NO_DATA_VOLUME'
  | 'E_ACME'
  | 'E_DNS_PROVIDER'
  | 'E_UNKNOWN_PORT'
  | 'E_LIMITS_UNSUPPORTED'
  | 'E_LIMITS_EXCEED_HOST';

const defaultStatus: Record<ErrorCode, number> = {
  E_BAD_REQUEST: 400,
  E_INVALID_NAME: 400,
  E_NOT_FOUND: 404,
  E_NAME_TAKEN: 409,
  E_PORTS_EXHAUSTED: 409,
  E_RUNTIME: 502,
  E_RUNTIME_UNAVAILABLE: 503,
  E_INVALID_STATE: 409,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_CONFIG: 500,
  // The filesystem of the data directory has no room left (ENOSPC, EDQUOT).
  E_DISK_FULL: 507,
  E_PAYLOAD_TOO_LARGE: 413,
  E_INTERNAL: 500,
  E_RATE_LIMITED: 429,
  E_CSRF: 403,
  E_CROSS_ORIGIN: 403,
  E_MANIFEST_INVALID: 400,
  E_APP_NOT_FOUND: 404,
  // The request is well-formed; the dependency graph (cycle, missing app, installed dependents) refuses it.
  E_DEPENDENCY: 409,
  // An app that cannot live under /embed/{app}/ needs BERTH_APPS_DOMAIN for a subdomain of its own.
  E_APP_NEEDS_DOMAIN: 409,
  // Shared Postgres/Redis answered with an error / could not be reached.
  E_INFRA: 502,
  E_INFRA_UNAVAILABLE: 503,
  // A database or role of that name exists but Berth did not create it.
  E_INFRA_CONFLICT: 409,
  E_REDIS_DBS_EXHAUSTED: 409,
  // An app's health check never passed (or it exited) during install; it is left `failed`.
  E_APP_UNHEALTHY: 502,
  // GitHub answered with an error or could not be reached: an upstream failure.
  E_GITHUB: 502,
  // The repository's berth.preview.yaml does not validate.
  E_PREVIEW_CONFIG_INVALID: 422,
  // Cloning, building, starting or health-checking a preview failed.
  E_PREVIEW_BUILD: 502,
  // A repository's devcontainer.json cannot be used (syntax, a refused property, a path outside the repository).
  E_DEVCONTAINER: 422,
  // restic failed (repository unreachable, wrong password, disk full…).
  E_BACKUP: 502,
  // A workspace data path that is not a safe absolute directory (domain/data-path.ts).
  E_BAD_DATA_PATH: 400,
  // The workspace has no data volume (made before volumes, or with none): a recreate would lose its files.
  E_NO_DATA_VOLUME: 409,
  // An ACME order or renewal failed (BERTH_TLS=acme); the certificate served before keeps serving.
  E_ACME: 502,
  // A DNS-01 provider (Cloudflare API, nsupdate) refused or failed to publish a challenge record.
  E_DNS_PROVIDER: 502,
  // A request named a port the workspace does not have (or cannot have yet: see services/workspace-ports.ts).
  E_UNKNOWN_PORT: 400,
  // CPU/memory limits asked of a runtime that cannot enforce them (process): refused, never ignored.
  E_LIMITS_UNSUPPORTED: 400,
  // A CPU or memory limit above what the host has.
  E_LIMITS_EXCEED_HOST: 400,
};

export interface BerthErrorOptions {
  /** HTTP status to answer with; defaults from the code. */
  status?: number;
  /** What the user can do about it, appended to the message in CLI and API output. */
  hint?: string;
  cause?: unknown;
}

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, opts: BerthErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BerthError';
    this.code = code;
    this.status = opts.status ?? defaultStatus[code];
    this.hint = opts.hint;
  }
}

export function isBerthError(err: unknown): err is BerthError {
  return err instanceof BerthError;
}
