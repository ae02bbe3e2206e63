// node:test reporter: one line per test, failures with their error, and the closing line
// `N passed, N failed, N skipped` that CI reads.
import { inspect } from 'node:util';

export default async function* reporter(source) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const failures = [];
  for await (const event of source) {
    const data = event.data ?? {};
    const isSuite = data.details?.type === 'suite';
    const indent = '  '.repeat(data.nesting ?? 0);
    switch (event.type) {
      case 'test:pass': {
        const ms = data.details?.duration_ms?.toFixed(0) ?? '?';
        if (isSuite) break;
        if (data.skip !== undefined || data.todo !== undefined) {
          skipped++;
          yield `${indent}- ${data.name} (skipped: ${data.skip || data.todo})\n`;
        } else {
          passed++;
          yield `${indent}✔ ${data.name} (${ms} ms)\n`;
        }
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
      case 'test:stdout':
        if (process.env.BERTH_TEST_VERBOSE) yield data.message;
        break;
      default:
        break;
    }
  }
  if (failures.length) {
    yield `\nFailures:\n${failures.map((f, i) => `${i + 1}) ${f}`).join('\n\n')}\n`;
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
