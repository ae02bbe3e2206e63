/**
 * Berth credentials: the local CLI token file, hashing, timing-safe comparison and the Bearer
 * header. A neutral module (no HTTP framework, no store) so services and the API both use it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';

/** Every Berth credential starts with this, so the edge can recognise and strip it. */
export const TOKEN_PREFIX = 'berth_';

/**
 * Reads the local CLI token, creating it (0600) on first start. Local trust is this file, never
 * the source address of a request (behind a same-host proxy every request comes from loopback).
 */
export function ensureTokenFile(file: string): string {
  if (existsSync(file)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    if (token.startsWith(TOKEN_PREFIX) && token.length >= 32) return token;
  }
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  writeFileSync(file, token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Timing-safe comparison of a presented bearer token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  // Hashing first gives equal-length buffers, so timingSafeEqual never throws or leaks length.
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Extracts the token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined | null): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** Hex SHA-256 of a credential: what the store keeps instead of the credential itself. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A fresh random credential `berth_<kind>_<43 base64url chars>` (256 bits). */
export function newToken(kind: string): string {
  return `${TOKEN_PREFIX}${kind}_${randomBytes(32).toString('base64url')}`;
}
