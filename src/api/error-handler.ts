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
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`).join('; ');
}

/**
 * The one place errors become HTTP. BerthError keeps its status and code; zod failures are 400;
 * anything else is logged with its stack and answered as a generic 500 (no internals leak).
 */
export function errorResponse(c: Context, err: unknown, log: Logger): Response {
  let e: BerthError;
  if (isBerthError(err)) e = err;
  else if (err instanceof ZodError) e = new BerthError('E_BAD_REQUEST', describeZodError(err));
  else {
    log.error({ err }, 'unhandled error in API');
    e = new BerthError('E_INTERNAL', 'internal error; see the daemon log');
  }
  if (e.status >= 500 && e.code !== 'E_INTERNAL') log.warn({ code: e.code, msg: e.message }, 'API error');
  const body: ErrorBody = { error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } };
  return c.json(body, e.status as ContentfulStatusCode);
}
