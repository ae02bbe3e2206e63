/**
 * `berth doctor [--json]`: checks this host for Berth with the BERTH_* settings in the
 * environment (src/ops/doctor.ts) and prints one line per finding, with what to do under each
 * problem. Exit code 1 when a check failed, 0 otherwise (warnings included).
 */
import type { Command } from 'commander';
import { printJson } from '../output.js';
import { explainStartError } from './up.js';

const MARK = { ok: '✓', warn: '!', fail: '✗', skip: '-' } as const;

/** The findings as a table: mark, name, detail, and the hint on the next line. */
export function formatDoctor(results: { name: string; status: keyof typeof MARK; detail: string; hint?: string }[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => `${MARK[r.status]} ${r.name.padEnd(width)}  ${r.detail}${r.hint && r.status !== 'ok' ? `\n  ${' '.repeat(width)}  → ${r.hint}` : ''}`);
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed > 0 ? `${failed} problem(s) to fix, ${warned} warning(s)` : warned > 0 ? `no problems, ${warned} warning(s)` : 'no problems found');
  return lines.join('\n') + '\n';
}

/** Registers `doctor` on the program. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check this host for Berth: engine, ports, data dir, clock, DNS, certificate, Postgres, Redis')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { loadConfig } = await import('../../config/load.js');
      let config: ReturnType<typeof loadConfig>;
      try {
        config = loadConfig();
      } catch (err) {
        throw explainStartError(err, undefined);
      }
      const { runDoctor } = await import('../../ops/doctor.js');
      const results = await runDoctor(config);
      if (opts.json) printJson({ results });
      else process.stdout.write(formatDoctor(results));
      if (results.some((r) => r.status === 'fail')) process.exitCode = 1;
    });
}
