/** Usage and limits on a Docker Engine: see test/support/usage-suite.ts. */
import { describe } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireOrSkip } from '../support/require.js';
import { usageSuite } from '../support/usage-suite.js';

const available = await promisify(execFile)('docker', ['info', '--format', '{{.ServerVersion}}']).then(() => true, () => false);

describe('usage and limits on docker', { skip: requireOrSkip('docker', available, 'no Docker engine answers `docker info` (scripts/start-docker starts one)') }, () => {
  usageSuite('docker');
});
