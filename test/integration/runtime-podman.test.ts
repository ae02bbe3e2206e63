/**
 * The podman driver through the shared conformance suite, against the real engine with a local
 * busybox image (no registry). Skips — loudly, with the reason — only when podman is not installed;
 * an installed podman that fails its probe is a failure, not a skip.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { silentLogger } from '../../src/log.js';
import { createPodmanRuntime, podmanConfPath } from '../../src/runtime/oci/engines.js';
import { runtimeConformanceSuite } from '../../src/runtime/runtime.suite.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from '../support/test-image.js';
import { missingReason } from '../support/require.js';

const execFileAsync = promisify(execFile);
const dataDirs: string[] = [];
let confEnv: NodeJS.ProcessEnv = {};

runtimeConformanceSuite(
  'podman',
  async () => {
    try {
      await execFileAsync('podman', ['--version']);
    } catch (err) {
      return { skip: missingReason('podman', `podman is not installed (${(err as Error).message}); CI installs it`) };
    }
    const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-podman-'));
    dataDirs.push(dataDir);
    const runtime = createPodmanRuntime({ log: silentLogger(), dataDir }, {});
    await runtime.probe(); // also writes the driver's containers.conf, which the image build reuses
    confEnv = { CONTAINERS_CONF: podmanConfPath(dataDir) };
    await ensureTestImage('podman', confEnv);
    return runtime;
  },
  {
    image: TEST_IMAGE,
    httpServer: ['sh', '-c', 'echo berth-ready; exec httpd -f -p "$PORT" -h /www'],
    readyMarker: 'berth-ready',
    body: TEST_IMAGE_BODY,
    ticker: ['sh', '-c', 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done'],
    exit3: ['sh', '-c', 'echo first; echo oops >&2; sleep 0.3; echo last; exit 3'],
    // .invalid never resolves (RFC 2606): the pull fails at once, with or without network.
    missingImage: 'berth.invalid/no-such-image:latest',
    removeImage: async (tag) => {
      await execFileAsync('podman', ['rmi', '-f', tag], { env: { ...process.env, ...confEnv } }).catch(() => undefined);
    },
  },
);

after(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});
