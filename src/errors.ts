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
  | 'E_PAYLOAD_TOO_LARGE'
  | 'E_INTERNAL'
  | 'E_RATE_LIMITED'
  | 'E_CSRF';

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
  E_PAYLOAD_TOO_LARGE: 413,
  E_INTERNAL: 500,
  E_RATE_LIMITED: 429,
  E_CSRF: 403,
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
