import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A new workload id: 12 lowercase alphanumerics, DNS-label safe (used in subdomains)
 * and starting with a letter so it never parses as a number.
 */
export function newId(length = 12): string {
  const bytes = randomBytes(length);
  let out = ALPHABET[bytes[0]! % 26]!;
  for (let i = 1; i < length; i++) out += ALPHABET[bytes[i]! % ALPHABET.length]!;
  return out;
}

export const ID_RE = /^[a-z][a-z0-9]{11}$/;
