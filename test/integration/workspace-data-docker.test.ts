/** Persistent workspace data on a Docker Engine: see test/support/workspace-data.ts. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireOrSkip } from '../support/require.js';
import { workspaceData } from '../support/workspace-data.js';

const problem = await promisify(execFile)('docker', ['info', '--format', '{{.ServerVersion}}']).then(
  () => null,
  (err: Error) => `no Docker engine answers \`docker info\` (scripts/start-docker starts one): ${err.message.split('\n')[0]}`,
);
workspaceData('docker', requireOrSkip('docker', problem === null, problem ?? ''));
