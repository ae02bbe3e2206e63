/** Tenant networks on podman: see test/support/tenant-networks.ts. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tenantNetworks } from '../support/tenant-networks.js';

const podmanMissing = await promisify(execFile)('podman', ['--version']).then(() => false, () => true);
if (podmanMissing) console.error('SKIPPED network isolation podman tests: podman is not installed (scripts/install-deps --test installs it)');
tenantNetworks('podman', podmanMissing ? 'podman is not installed' : false);
