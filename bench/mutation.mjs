#!/usr/bin/env node
// Mutation testing of the security- and correctness-critical pure modules with StrykerJS.
//
//   node bench/mutation.mjs                 # every module below
//   node bench/mutation.mjs match verify    # only modules whose path contains one of the words
//   node bench/mutation.mjs manifest --lines 46-47,120   # only mutants starting on those lines
//                                                          (re-checking survivors; own report file)
//
// Each module is mutated and its unit tests run against every mutant (node:test through tsx,
// read by Stryker's TAP runner: node:test prints TAP when its output is not a terminal). Prints
// the mutation score per module (killed + timed out, over all mutants Stryker could test) and
// every surviving mutant with its place, then the wall time. One Stryker run per module,
// concurrency 1: the machine has 2 cores shared with other work. Reports: reports/mutation/*.json.
// MUTATION_REPORT_ONLY=1 prints the figures of the last runs without running Stryker again.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Module → the unit tests that are meant to pin it down. */
export const MODULES = [
  { mutate: 'src/edge/match.ts', tests: ['src/edge/match.test.ts', 'src/edge/match-state.test.ts', 'src/edge/match-reasons.test.ts', 'src/edge/preview-routes.test.ts', 'src/edge/embed-routes.test.ts'] },
  { mutate: 'src/edge/headers.ts', tests: ['src/edge/headers.test.ts', 'src/edge/headers-edges.test.ts'] },
  { mutate: 'src/edge/forwarded.ts', tests: ['src/edge/forwarded.test.ts', 'src/edge/forwarded-edges.test.ts'] },
  { mutate: 'src/edge/upstream/response-parser.ts', tests: ['src/edge/upstream/response-parser.test.ts', 'src/edge/upstream/response-parser-edges.test.ts'] },
  { mutate: 'src/previews/github/verify.ts', tests: ['src/previews/github/verify.test.ts'] },
  { mutate: 'src/config/schema.ts', tests: ['src/config/schema.test.ts', 'src/config/load.test.ts'] },
  { mutate: 'src/previews/config.schema.ts', tests: ['src/previews/config.schema.test.ts', 'src/previews/config.schema-edges.test.ts'] },
  { mutate: 'src/catalog/manifest.schema.ts', tests: ['src/catalog/manifest.test.ts', 'src/catalog/load.test.ts', 'src/catalog/template.test.ts', 'src/catalog/manifest-edges.test.ts'] },
  { mutate: 'src/domain/ports.ts', tests: ['src/domain/ports.test.ts'] },
  { mutate: 'src/domain/app-graph.ts', tests: ['src/domain/app-graph.test.ts'] },
];

/** Top-level folders Stryker need not copy into its sandbox (none holds a mutated module's imports). */
const IGNORED = ['web', 'dist', 'test-results', 'reports', 'docs', '.berth', 'bench', 'catalog', '.stryker-tmp'];

const args = process.argv.slice(2);
const linesAt = args.indexOf('--lines');
/** Line ranges (`46-47`, `120`) to mutate instead of the whole module; null = the whole module. */
const lines = linesAt === -1 ? null : (args[linesAt + 1] ?? '').split(',').filter(Boolean).map((r) => (r.includes('-') ? r : `${r}-${r}`));
if (lines !== null && (!lines.length || lines.some((r) => !/^\d+-\d+$/.test(r)))) {
  console.error('--lines takes ranges like 46-47,120');
  process.exit(2);
}
const words = linesAt === -1 ? args : args.filter((_, i) => i !== linesAt && i !== linesAt + 1);
const chosen = words.length ? MODULES.filter((m) => words.some((w) => m.mutate.includes(w))) : MODULES;
if (!chosen.length) {
  console.error(`no module matches ${words.join(' ')}; modules: ${MODULES.map((m) => m.mutate).join(', ')}`);
  process.exit(2);
}

const reportDir = path.join(root, 'reports', 'mutation');
mkdirSync(reportDir, { recursive: true });
const slug = (m) => m.mutate.replace(/^src\//, '').replace(/\.ts$/, '').replace(/[/.]/g, '-') + (lines ? '.lines' : '');

/** One Stryker run per module, so each module's figure stands on its own and survives a stop. */
function mutateOne(m) {
  const name = slug(m);
  const config = {
    $schema: '../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    packageManager: 'npm',
    plugins: ['@stryker-mutator/tap-runner'],
    testRunner: 'tap',
    tap: {
      testFiles: m.tests.filter((f) => existsSync(path.join(root, f))),
      // tsx runs the instrumented TypeScript; Stryker adds its own hook with -r.
      nodeArgs: ['--import', 'tsx', '{{testFile}}'],
      forceBail: true,
    },
    mutate: lines ? lines.map((r) => `${m.mutate}:${r}`) : [m.mutate],
    coverageAnalysis: 'perTest',
    concurrency: 1,
    timeoutMS: 20_000,
    checkers: [],
    // TypeScript 7 (the native compiler) has no JS API for Stryker's tsconfig rewrite; tsx needs none.
    tsconfigFile: 'tsconfig.stryker-none.json',
    // Anchored at the project root: Stryker matches a bare name against every entry's own name at
    // any depth, so 'web' would also drop src/web and 'catalog' src/catalog from the sandbox.
    ignorePatterns: IGNORED.map((dir) => `/${dir}`),
    tempDirName: path.join('.stryker-tmp', name), // one per module: runs of two modules may overlap
    cleanTempDir: true,
    reporters: ['json', 'progress'],
    jsonReporter: { fileName: path.join('reports', 'mutation', `${name}.json`) },
  };
  const configFile = path.join(reportDir, `${name}.config.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const started = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js'), 'run', configFile], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (r.status !== 0) throw new Error(`stryker exited with ${r.status ?? r.signal} on ${m.mutate} after ${seconds} s`);
  // Kept beside the report so MUTATION_REPORT_ONLY prints the run's real duration.
  writeFileSync(path.join(reportDir, `${name}.time.json`), JSON.stringify({ seconds, finished: new Date().toISOString() }));
  return seconds;
}

const KILLED = new Set(['Killed', 'Timeout']);
const UNTESTABLE = new Set(['CompileError', 'RuntimeError', 'Ignored']);

/** The source text a mutant replaces (first line of it, at most 60 characters), from 1-based positions. */
function original(lines, { start, end }) {
  const line = lines[start.line - 1] ?? '';
  const text = start.line === end.line ? line.slice(start.column - 1, end.column - 1) : `${line.slice(start.column - 1)}…`;
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Score and survivors of one module from its JSON report. */
function readReport(m) {
  const file = path.join(reportDir, `${slug(m)}.json`);
  if (!existsSync(file)) return null;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const entry = report.files[m.mutate] ?? report.files[path.join(root, m.mutate)];
  const mutants = (entry?.mutants ?? []).filter((x) => !UNTESTABLE.has(x.status));
  const killed = mutants.filter((x) => KILLED.has(x.status)).length;
  const lines = (entry?.source ?? '').split('\n');
  // The report's positions are already 1-based (mutation-testing-report-schema), line and column.
  const survivors = mutants
    .filter((x) => !KILLED.has(x.status))
    .map((x) => `${m.mutate}:${x.location.start.line}:${x.location.start.column} ${x.status} ${x.mutatorName}: ${JSON.stringify(original(lines, x.location))} → ${JSON.stringify(x.replacement ?? '')}\n      ${(lines[x.location.start.line - 1] ?? '').trim().slice(0, 140)}`);
  return { module: m.mutate, mutants: mutants.length, killed, survivors };
}

/** Wall time of the module's last run, 0 when it was not recorded. */
function lastDuration(m) {
  const file = path.join(reportDir, `${slug(m)}.time.json`);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')).seconds : 0;
}

const rows = [];
let wall = 0;
for (const m of chosen) {
  const seconds = process.env.MUTATION_REPORT_ONLY ? lastDuration(m) : mutateOne(m);
  wall += seconds;
  const r = readReport(m);
  if (r) rows.push({ ...r, seconds });
  else console.log(`no report for ${m.mutate} yet (run: node bench/mutation.mjs ${m.mutate})`);
}
const total = rows.reduce((a, r) => ({ mutants: a.mutants + r.mutants, killed: a.killed + r.killed }), { mutants: 0, killed: 0 });
const pct = (k, n) => (n ? (100 * k) / n : 100).toFixed(1).padStart(5);
console.log(`\nmutation score per module (killed + timed out / mutants tested)${lines ? `, lines ${lines.join(',')} only` : ''}`);
for (const r of rows) console.log(`  ${pct(r.killed, r.mutants)}%  ${String(r.killed).padStart(4)}/${String(r.mutants).padEnd(4)} ${r.module.padEnd(40)} ${r.seconds} s`);
console.log(`  ${pct(total.killed, total.mutants)}%  ${String(total.killed).padStart(4)}/${String(total.mutants).padEnd(4)} all`);
const survivors = rows.flatMap((r) => r.survivors);
if (survivors.length) console.log(`\nsurvivors (${survivors.length}):\n${survivors.map((s) => `  ${s}`).join('\n')}`);
console.log(`\nwall time ${wall} s`);
