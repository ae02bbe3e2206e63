#!/usr/bin/env node
// Line and branch coverage of src/ with c8 (V8's own coverage, mapped back to the TypeScript
// through tsx's source maps), per folder, and the security paths on their own.
//
//   node bench/coverage.mjs                  # every src/**/*.test.ts + the integration tests in INTEGRATION below
//   node bench/coverage.mjs <test files…>    # only those
//
// Runs the tests through scripts/run-tests.mjs (so the usual closing line is printed first),
// then prints one line per folder and one per security path, and exits 1 when a security path
// is below SECURITY_BRANCH_MIN % branches. Reports: reports/coverage/ (HTML and JSON summary).
// Build first (`npm run build`) if the chosen tests need web/dist.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECURITY_BRANCH_MIN = 90;
/** Paths that decide who reaches what; a file or a folder (every file below it). */
const SECURITY_PATHS = [
  'src/edge/',
  'src/api/authn.ts',
  'src/api/hosted-access.ts',
  'src/api/upgrade-auth.ts',
  'src/api/exec-socket.ts',
  'src/api/llm-access.ts',
  'src/auth/app-handoff.ts',
  'src/previews/github/verify.ts',
];
/** The integration tests that exercise the security paths through real sockets. */
const INTEGRATION = [
  'test/integration/edge.test.ts',
  'test/integration/edge-upstream.test.ts',
  'test/integration/edge-ws.test.ts',
  'test/integration/edge-ws-close.test.ts',
  'test/integration/edge-vite.test.ts',
  'test/integration/edge-guards.test.ts',
  'test/integration/edge-tunnel-faults.test.ts',
  'test/integration/edge-upstream-faults.test.ts',
  'test/integration/crash-entry-points.test.ts',
  'test/integration/private-apps.test.ts',
  'test/integration/auth.test.ts',
  'test/integration/previews-webhook.test.ts',
  'test/integration/origins.test.ts',
  'test/integration/llm-proxy.test.ts',
  'test/integration/member-boundaries.test.ts',
  'test/integration/daemon-access.test.ts',
  'test/integration/exec-socket.test.ts',
  'test/integration/shutdown.test.ts',
  'test/integration/tls-files.test.ts',
];

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(path.relative(root, full));
  }
  return out;
}

const files = process.argv.length > 2 ? process.argv.slice(2) : [...findTests(path.join(root, 'src')).sort(), ...INTEGRATION];
const reportDir = path.join(root, 'reports', 'coverage');
const tempDir = path.join(root, 'reports', '.c8-tmp');
rmSync(reportDir, { recursive: true, force: true });
rmSync(tempDir, { recursive: true, force: true });

const started = Date.now();
const run = spawnSync(
  process.execPath,
  [
    path.join(root, 'node_modules', 'c8', 'bin', 'c8.js'),
    '--all', '--src', 'src',
    '--include', 'src/**/*.ts',
    '--exclude', 'src/**/*.test.ts', '--exclude', 'src/**/*.suite.ts',
    '--reporter', 'json-summary', '--reporter', 'html',
    '--report-dir', reportDir, '--temp-directory', tempDir,
    process.execPath, path.join(root, 'scripts', 'run-tests.mjs'), ...files,
  ],
  { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] },
);
const seconds = Math.round((Date.now() - started) / 1000);
rmSync(tempDir, { recursive: true, force: true });

const summary = JSON.parse(readFileSync(path.join(reportDir, 'coverage-summary.json'), 'utf8'));
/** file (relative) → { lines: {total, covered}, branches: {total, covered} } */
const perFile = Object.entries(summary)
  .filter(([k]) => k !== 'total')
  .map(([k, v]) => [path.relative(root, k), v]);

function add(files) {
  const sum = { lt: 0, lc: 0, bt: 0, bc: 0, n: 0 };
  for (const [, v] of files) {
    sum.lt += v.lines.total;
    sum.lc += v.lines.covered;
    sum.bt += v.branches.total;
    sum.bc += v.branches.covered;
    sum.n++;
  }
  return sum;
}
const pct = (c, t) => (t ? (100 * c) / t : 100);
const fmt = (s) => `${pct(s.lc, s.lt).toFixed(1).padStart(5)}% lines  ${pct(s.bc, s.bt).toFixed(1).padStart(5)}% branches`;

const folders = new Map();
for (const entry of perFile) {
  const folder = path.dirname(entry[0]);
  folders.set(folder, [...(folders.get(folder) ?? []), entry]);
}
console.log(`\ncoverage per folder (${files.length} test files, ${seconds} s)`);
for (const [folder, entries] of [...folders].sort()) console.log(`  ${fmt(add(entries))}  ${folder} (${entries.length} files)`);
console.log(`  ${fmt(add(perFile))}  all of src`);

console.log(`\nsecurity paths (branch minimum ${SECURITY_BRANCH_MIN}%)`);
let low = 0;
for (const p of SECURITY_PATHS) {
  const entries = perFile.filter(([f]) => (p.endsWith('/') ? f.startsWith(p) : f === p));
  for (const [f, v] of entries) {
    const b = pct(v.branches.covered, v.branches.total);
    const flag = b < SECURITY_BRANCH_MIN ? '  BELOW' : '';
    if (flag) low++;
    console.log(`  ${fmt(add([[f, v]]))}  ${f}${flag}`);
  }
}
console.log(`\nreport: ${path.relative(root, reportDir)}/index.html`);
if (run.status !== 0) console.log(`tests exited with ${run.status ?? run.signal}`);
process.exit(low || run.status !== 0 ? 1 : 0);
