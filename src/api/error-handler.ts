import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ZodError } from 'zod';
import { BerthError, isBerthError } from '../errors.js';
import type { Logger } from '../log.js';

/** The JSON shape of every API error: `{"error":{"code","message","hint"?}}`. */
export interface ErrorBody {
  error: { code: string; message: string; hint?: string };
}

/** Formats zod issues as `field: problem; field: problem`. */
export function describeZodError(err: ZodError): string {
  // A bad record key (an env name) says what a key must be, not zod's "Invalid key in record".
  const message = (i: ZodError['issues'][number]): string => (i.code === 'invalid_key' ? (i.issues[0]?.message ?? i.message) : i.message);
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${message(i)}`).join('; ');
}

/**
 * The hint of the first zod issue that carries one: a custom issue's `params.hint` (e.g. the
 * shape an image reference must have), so a refused field tells the user what to send instead.
 */
export function zodErrorHint(err: Pick<ZodError, 'issues'>): string | undefined {
  for (const issue of err.issues) {
    const hint = issue.code === 'custom' ? (issue.params as { hint?: unknown } | undefined)?.hint : undefined;
    if (typeof hint === 'string') return hint;
    // A record key's own issues sit inside the invalid_key issue.
    const nested = issue.code === 'invalid_key' ? zodErrorHint(issue) : undefined;
    if (nested) return nested;
  }
  return undefined;
}

/** A BerthError('E_BAD_REQUEST') saying every zod issue, with the first hint an issue carries. */
export function zodBadRequest(err: ZodError): BerthError {
  const hint = zodErrorHint(err);
  return new BerthError('E_BAD_REQUEST', describeZodError(err), hint ? { hint } : {});
}

/**
 * The one place errors become HTTP. BerthError keeps its status and code; zod failures are 400;
 * anything else is logged with its stack and answered as a generic 500 (no internals leak).
 */
export function errorResponse(c: Context, err: unknown, log: Logger): Response {
  let e: BerthError;
  if (isBerthError(err)) e = err;
  else if (err instanceof ZodError) e = zodBadRequest(err);
  else {
    log.error({ err }, 'unhandled error in API');
    e = new BerthError('E_INTERNAL', 'internal error; see the daemon log');
  }
  if (e.status >= 500 && e.code !== 'E_INTERNAL') log.warn({ code: e.code, msg: e.message }, 'API error');
  const body: ErrorBody = { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
  return c.json(body, e.status as ContentfulStatusCode);
}
