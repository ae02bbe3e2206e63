/** Persistent workspace data on podman: see test/support/workspace-data.ts. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireOrSkip } from '../support/require.js';
import { workspaceData } from '../support/workspace-data.js';

const podmanOk = await promisify(execFile)('podman', ['--version']).then(() => true, () => false);
workspaceData('podman', requireOrSkip('podman', podmanOk, 'podman is not installed (scripts/install-deps --test installs it)'));
