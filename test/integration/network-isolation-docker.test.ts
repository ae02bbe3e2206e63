/** Tenant networks on a Docker Engine: see test/support/tenant-networks.ts. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tenantNetworks } from '../support/tenant-networks.js';

const problem = await promisify(execFile)('docker', ['info', '--format', '{{.ServerVersion}}']).then(
  () => false as const,
  (err: Error) => `no Docker engine answers \`docker info\`: ${err.message.split('\n')[0]}`,
);
if (problem) console.error(`SKIPPED network isolation docker tests: ${problem}`);
tenantNetworks('docker', problem);
