// node:test reporter: one line per test, failures with their error, a summary of every skip with
// its reason, and the closing line `N passed, N failed, N skipped` that CI reads.
//
// Skips are counted whether node:test reports them on a test or on a whole suite: a skipped
// `describe(…, { skip })` arrives (Node 20) as one `test:pass` with `details.type === 'suite'` and
// `skip` set, and none of its tests are reported. `test:complete` carries the same `skip` and is
// read too (deduplicated), so a runner that emits only one of the two still has its skips counted.
//
// A skip whose reason carries `[requires <component>]` (test/support/require.ts) is a missing
// host component. When BERTH_TEST_REQUIRE names that component it is a failure instead: listed
// with the suites it would have skipped, and the run exits non-zero.
import path from 'node:path';
import { inspect } from 'node:util';

/** Keep in step with requiresTag() in test/support/require.ts. */
const REQUIRES = /\[requires ([a-z0-9-]+)\]/;

/** The reasons node:test gives tests it leaves out by a filter, not by a skip in the code. */
const FILTERED = /^(test name does not match pattern|'only' option not set)$/;

const required = new Set(
  (process.env.BERTH_TEST_REQUIRE ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean),
);

const where = (data) => `${data.file ? path.relative(process.cwd(), data.file) : '?'} › ${data.name}`;
const keyOf = (data) => `${data.file}|${data.line}|${data.column}|${data.nesting}|${data.name}`;
const reasonOf = (data) => {
  const r = data.skip !== undefined ? data.skip : data.todo;
  return typeof r === 'string' && r ? r : data.todo !== undefined ? 'todo' : '(no reason given)';
};

export default async function* reporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  /** Every skip, suite or test: { kind, where, reason }. */
  const skips = [];
  /** component → places that would have been skipped, when the component is required. */
  const missing = new Map();
  /** `SKIPPED …` lines the test files wrote to stderr. */
  const notes = new Set();
  const seenSkips = new Set();
  let filtered = 0;
  /** Unfinished last line of output, per file. */
  const tails = new Map();

  /** Records a skip once; returns the line to print, or '' when already seen. */
  function onSkip(data, indent) {
    const key = keyOf(data);
    if (seenSkips.has(key)) return '';
    seenSkips.add(key);
    const kind = data.details?.type === 'suite' ? 'suite' : 'test';
    const reason = reasonOf(data);
    const component = REQUIRES.exec(reason)?.[1];
    if (component && required.has(component)) {
      failed++;
      const list = missing.get(component) ?? [];
      list.push(`${kind} ${where(data)}`);
      missing.set(component, list);
      failures.push(`${where(data)}\nrequired component "${component}" is missing (BERTH_TEST_REQUIRE): ${reason}`);
      return `${indent}✖ ${data.name} (${kind} would be skipped, but ${component} is required: ${reason})\n`;
    }
    skipped++;
    // Tests left out by --test-name-pattern / --test-only are counted, not listed one by one.
    if (FILTERED.test(reason)) {
      filtered++;
      return '';
    }
    skips.push({ kind, where: where(data), reason });
    return `${indent}- ${data.name} (${kind} skipped: ${reason})\n`;
  }

  for await (const event of source) {
    const data = event.data ?? {};
    const isSuite = data.details?.type === 'suite';
    const indent = '  '.repeat(data.nesting ?? 0);
    switch (event.type) {
      case 'test:complete':
        if (data.skip !== undefined && data.details?.passed !== false) {
          const line = onSkip(data, indent);
          if (line) yield line;
        }
        break;
      case 'test:pass': {
        if (data.skip !== undefined || data.todo !== undefined) {
          const line = onSkip(data, indent);
          if (line) yield line;
          break;
        }
        if (isSuite) break;
        const ms = data.details?.duration_ms?.toFixed(0) ?? '?';
        passed++;
        yield `${indent}✔ ${data.name} (${ms} ms)\n`;
        break;
      }
      case 'test:fail': {
        const err = data.details?.error;
        // A suite failing only because a child failed is not a separate failure.
        if (isSuite && err?.failureType === 'subtestsFailed') break;
        failed++;
        const cause = err?.cause ?? err;
        const msg = cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause, { depth: 4 });
        failures.push(`${data.file ?? ''} › ${data.name}\n${msg}`);
        yield `${indent}✖ ${data.name}\n${indent}  ${String(msg).split('\n').slice(0, 8).join(`\n${indent}  `)}\n`;
        break;
      }
      case 'test:diagnostic':
        if (!/^(tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(data.message)) {
          yield `# ${data.message}\n`;
        }
        break;
      case 'test:stderr':
      case 'test:stdout': {
        // Output arrives in chunks; collect whole lines starting with SKIPPED for the summary.
        const text = (tails.get(data.file) ?? '') + data.message;
        const lines = text.split('\n');
        tails.set(data.file, lines.pop() ?? '');
        const file = data.file ? path.relative(process.cwd(), data.file) : '?';
        for (const l of lines) if (/^SKIPPED\b/.test(l.trim())) notes.add(`${file}: ${l.trim()}`);
        if (process.env.BERTH_TEST_VERBOSE) yield data.message;
        break;
      }
      default:
        break;
    }
  }
  if (failures.length) {
    yield `\nFailures:\n${failures.map((f, i) => `${i + 1}) ${f}`).join('\n\n')}\n`;
  }
  if (skips.length || notes.size || filtered) {
    yield `\nSkipped (${skips.length}${filtered ? `, and ${filtered} left out by a name filter` : ''}):\n`;
    for (const s of skips) yield `  ${s.kind === 'suite' ? 'suite' : 'test '} ${s.where}\n        ${s.reason}\n`;
    if (notes.size) yield `Skip notes written to stderr:\n${[...notes].map((n) => `  ${n}`).join('\n')}\n`;
  }
  if (missing.size) {
    yield `\nRequired components missing (BERTH_TEST_REQUIRE=${[...required].join(',')}):\n`;
    for (const [component, places] of missing) {
      yield `  ${component}: would have skipped ${places.length}:\n${places.map((p) => `    ${p}`).join('\n')}\n`;
    }
    process.exitCode = 1;
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
