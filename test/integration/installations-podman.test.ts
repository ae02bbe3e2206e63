/** Two Berths on one podman: see test/support/two-berths.ts. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { twoBerthsOnOneEngine } from '../support/two-berths.js';

const podmanMissing = await promisify(execFile)('podman', ['--version']).then(() => false, () => true);
if (podmanMissing) console.error('SKIPPED two-installation podman tests: podman is not installed (scripts/install-deps --test installs it)');
twoBerthsOnOneEngine('podman', podmanMissing ? 'podman is not installed' : false);
