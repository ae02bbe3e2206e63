/** Usage and limits on podman: see test/support/usage-suite.ts. */
import { describe } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireOrSkip } from '../support/require.js';
import { usageSuite } from '../support/usage-suite.js';

const available = await promisify(execFile)('podman', ['--version']).then(() => true, () => false);

describe('usage and limits on podman', { skip: requireOrSkip('podman', available, 'podman is not installed (scripts/install-deps --test installs it)') }, () => {
  usageSuite('podman');
});
