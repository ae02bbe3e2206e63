/**
 * The points of the usage chart: a bounded series of samples and the SVG polyline of one measure.
 * Pure, so the scaling is tested without a browser.
 */

/** One poll's figures. */
export interface UsagePoint {
  /** ms since the epoch. */
  at: number;
  cpuPercent: number | null;
  memoryBytes: number;
}

/** Appends `p` unless it repeats the last sample (the server's cache answered twice), dropping points older than `windowMs`. */
export function pushPoint(series: readonly UsagePoint[], p: UsagePoint, windowMs: number): UsagePoint[] {
  const last = series[series.length - 1];
  const next = last && last.at === p.at ? [...series] : [...series, p];
  return next.filter((q) => q.at >= p.at - windowMs);
}

/**
 * `points` attribute of an SVG polyline `width`×`height` for `value(p)` scaled to `max`, the
 * newest sample at the right edge and `windowMs` across; samples without a value are skipped.
 */
export function polyline(series: readonly UsagePoint[], value: (p: UsagePoint) => number | null, max: number, width: number, height: number, windowMs: number): string {
  const end = series[series.length - 1]?.at ?? 0;
  const top = max > 0 ? max : 1;
  return series
    .flatMap((p) => {
      const v = value(p);
      if (v === null) return [];
      const x = width - ((end - p.at) / windowMs) * width;
      const y = height - (Math.min(v, top) / top) * height;
      return [`${x.toFixed(1)},${y.toFixed(1)}`];
    })
    .join(' ');
}
