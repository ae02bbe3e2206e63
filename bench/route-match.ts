/** Timing `matchRequest` for the route benchmarks (bench/scale.ts, bench/route-lookup.ts). */
import type { RouteTable } from '../src/domain/route.js';
import { matchRequest } from '../src/edge/match.js';

/** Kept observable so the JIT cannot drop the lookups as dead code. */
export let lookupSink = 0;

/** A shuffled copy of `xs` (Fisher–Yates). */
export function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** ns per lookup over `n` lookups of `urls` (cycled) in `table`; every URL must match a route. */
export function lookupRound(table: RouteTable, urls: readonly string[], n: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const m = matchRequest(table, urls[i % urls.length]!, undefined);
    if (m.type !== 'route') throw new Error(`lookup of ${urls[i % urls.length]} gave ${m.type}`);
    lookupSink += m.path.length;
  }
  return Number(process.hrtime.bigint() - t) / n;
}
