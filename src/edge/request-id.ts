import { randomUUID } from 'node:crypto';

/** What a caller may choose as its own request id: short, and safe to log and echo in a header. */
const GIVEN_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The id that names one request in the log and in its `X-Request-Id` answer: the caller's own
 * `X-Request-Id` when it is 1–64 of `[A-Za-z0-9._-]` (so a trace spans an outer proxy), else a
 * fresh UUID. Never throws, whatever the header holds.
 */
export function requestId(given: string | string[] | undefined): string {
  return typeof given === 'string' && GIVEN_ID.test(given) ? given : randomUUID();
}
