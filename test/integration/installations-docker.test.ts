/** Two Berths on one Docker Engine: see test/support/two-berths.ts. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { twoBerthsOnOneEngine } from '../support/two-berths.js';

const problem = await promisify(execFile)('docker', ['info', '--format', '{{.ServerVersion}}']).then(
  () => false as const,
  (err: Error) => `no Docker engine answers \`docker info\`: ${err.message.split('\n')[0]}`,
);
if (problem) console.error(`SKIPPED two-installation docker tests: ${problem}`);
twoBerthsOnOneEngine('docker', problem);
