/**
 * Durations as people write them (`30s`, `2h`, `1h30m`, `500ms`, `7d`): parsed for config, preview
 * files and workspace settings, and formatted back the same way for display. Pure.
 */

const DURATION_RE = /^(?:\d+(?:ms|s|m|h|d))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "72h", "7d", "1h30m", "500ms" → milliseconds; null when malformed or zero. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (!DURATION_RE.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total > 0 && Number.isSafeInteger(total) ? total : null;
}

/** 7_200_000 → "2h", 5_400_000 → "1h30m", 1500 → "1s500ms": the shortest form parseDuration reads back. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
