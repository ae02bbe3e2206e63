/**
 * Route lookup and route-table build, side by side across table sizes: `npx tsx bench/route-lookup.ts`
 * (`--sizes 10,100,1000,5000`, `--rounds 60`).
 *
 * bench/scale.ts measures lookups at each checkpoint of a real 1000-workspace run, minutes apart,
 * so machine noise between checkpoints shows up in its ratios. This bench isolates the question
 * "does a lookup get slower as the table grows?": tables for every size are built once from rows of
 * the shape the daemon makes (workspaceRoutable: 5 ports, private access, an apps domain), then
 * rounds of `matchRequest` run over each table in turn — interleaved, so every size sees the same
 * machine. Three URL sets: 50 hot URLs (same working set whatever the size), every URL of the table
 * (working set grows with it), and a path with a dot (full normalization). Also times
 * `buildRouteTable` per size, the synchronous work done on every store change.
 */
import { buildRouteTable } from '../src/edge/route-table.js';
import type { RoutableWorkload, RouteTable } from '../src/domain/route.js';
import { lookupRound, shuffled } from './route-match.js';
import { median, parseArgs, percentile, printTable } from './support.js';

const args = parseArgs(process.argv.slice(2), ['sizes', 'rounds']);
const sizes = (args.get('sizes') ?? '10,100,1000,5000').split(',').map(Number);
const ROUNDS = Number(args.get('rounds') ?? 60);
const PER_ROUND = 20_000;
const APPS_DOMAIN = 'apps.example.com';

/** `n` workspaces as the daemon routes them (ids like newId's, 5 consecutive host ports each). */
function rows(n: number): RoutableWorkload[] {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'workspace' as const,
    id: `w${i.toString(36).padStart(11, '0')}`,
    name: `ws-${i}`,
    state: 'running' as const,
    upstreamHost: '127.0.0.1',
    ports: Array.from({ length: 5 }, (_, j) => ({ containerPort: 8000 + j, hostPort: 12000 + i * 5 + j })),
    access: { visibility: 'private' as const, ownerId: 'u1', dashboardUrl: 'http://127.0.0.1:8995' },
  }));
}

interface Subject {
  size: number;
  table: RouteTable;
  urls: Record<'hot' | 'all' | 'dotted', string[]>;
  ns: Record<'hot' | 'all' | 'dotted', number[]>;
}

const subjects: Subject[] = sizes.map((size) => {
  const table = buildRouteTable(rows(size), { appsDomain: APPS_DOMAIN });
  const keys = shuffled([...table.pathRoutes.keys()]);
  return {
    size,
    table,
    urls: { hot: keys.slice(0, 50).map((k) => `${k}api/items?page=2`), all: keys.map((k) => `${k}api/items?page=2`), dotted: keys.map((k) => `${k}assets/app.js`) },
    ns: { hot: [], all: [], dotted: [] },
  };
});

console.log(`route lookup: sizes ${sizes.join(', ')} workspaces (5 routes each + host routes), ${ROUNDS} interleaved rounds of ${PER_ROUND} lookups; node ${process.version}`);
for (let r = 0; r < ROUNDS + 5; r++) {
  for (const s of shuffled(subjects)) {
    for (const kind of ['hot', 'all', 'dotted'] as const) {
      const ns = lookupRound(s.table, s.urls[kind], PER_ROUND);
      if (r >= 5) s.ns[kind].push(ns); // the first rounds warm the JIT up
    }
  }
}

// Builds: every size in turn, repeated; median and p90 per size.
const buildMs = new Map<number, number[]>(sizes.map((n) => [n, []]));
const inputs = new Map(sizes.map((n) => [n, rows(n)]));
for (let r = 0; r < 25; r++) {
  for (const n of shuffled(sizes)) {
    const t = performance.now();
    buildRouteTable(inputs.get(n)!, { appsDomain: APPS_DOMAIN });
    if (r >= 3) buildMs.get(n)!.push(performance.now() - t);
  }
}

const first = subjects[0]!;
printTable(
  ['workspaces', 'routes', 'ns/lookup, 50 hot URLs', 'ratio', 'ns/lookup, all URLs', 'ratio', 'ns/lookup, dotted path', 'ratio', 'build ms (p50)', 'build ms (p90)'],
  subjects.map((s) => [
    String(s.size),
    String(s.table.pathRoutes.size + s.table.hostRoutes.size),
    median(s.ns.hot).toFixed(0),
    `${(median(s.ns.hot) / median(first.ns.hot)).toFixed(2)}×`,
    median(s.ns.all).toFixed(0),
    `${(median(s.ns.all) / median(first.ns.all)).toFixed(2)}×`,
    median(s.ns.dotted).toFixed(0),
    `${(median(s.ns.dotted) / median(first.ns.dotted)).toFixed(2)}×`,
    median(buildMs.get(s.size)!).toFixed(2),
    percentile(buildMs.get(s.size)!, 90).toFixed(2),
  ]),
);
