import { createHmac, timingSafeEqual } from 'node:crypto';

/** `sha256=` followed by exactly 32 bytes of hex: anything else is malformed. */
const SIGNATURE_RE = /^sha256=([0-9a-f]{64})$/i;

/**
 * Checks GitHub's `X-Hub-Signature-256` header against an HMAC-SHA256 of the RAW request bytes.
 *
 * The body must be the bytes as received: re-serializing parsed JSON changes whitespace, key order
 * and escapes, so a signature over it would never match (or worse, a lenient check would be
 * tempted). Returns false, never throws, for a missing or malformed header and for an empty secret
 * (an unset secret must never mean "accept everything"). The comparison is constant-time.
 */
export function verifyGithubSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (!secret || typeof header !== 'string') return false;
  const m = SIGNATURE_RE.exec(header.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!, 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  // Both are 32 bytes by construction (regex + SHA-256); the length check keeps timingSafeEqual from throwing anyway.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The `X-Hub-Signature-256` value GitHub would send for `rawBody`. For tests, the local GitHub
 * fake and `berth` tooling that replays deliveries; the daemon itself only verifies.
 */
export function signGithubPayload(rawBody: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}
