/**
 * Pure argument parsers for commander options. They throw commander's InvalidArgumentError so
 * the message is printed as a usage error next to the option it concerns.
 */
import { InvalidArgumentError } from 'commander';

const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Splits `K=V` at the first `=`. The key must be a shell-style variable name; the value may be
 * empty and may contain `=`. Returns null for anything else.
 */
export function parseEnvPair(pair: string): [string, string] | null {
  const eq = pair.indexOf('=');
  if (eq <= 0) return null;
  const key = pair.slice(0, eq);
  if (!ENV_KEY_RE.test(key)) return null;
  return [key, pair.slice(eq + 1)];
}

/** Commander collector for a repeatable `--env K=V`; later values win. */
export function collectEnv(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const parsed = parseEnvPair(value);
  if (!parsed) {
    throw new InvalidArgumentError(
      `expected K=V with K made of letters, digits and _ (not starting with a digit), got "${value}"`,
    );
  }
  return { ...(previous ?? {}), [parsed[0]]: parsed[1] };
}

/** Commander parser for a count such as `--tail N`: a non-negative integer. */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`number too large: "${value}"`);
  return n;
}
