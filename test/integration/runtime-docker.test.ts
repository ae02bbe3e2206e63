/**
 * The docker driver through the shared conformance suite. Skips — loudly, with the engine's own
 * words — when no Docker daemon answers `docker info` (this machine has the CLI but no daemon).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { promisify } from 'node:util';
import { isBerthError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createDockerRuntime } from '../../src/runtime/oci/engines.js';
import { runtimeConformanceSuite } from '../../src/runtime/runtime.suite.js';
import { ensureTestImage, TEST_IMAGE, TEST_IMAGE_BODY } from '../support/test-image.js';
import { missingReason } from '../support/require.js';

const execFileAsync = promisify(execFile);
const dataDirs: string[] = [];

runtimeConformanceSuite(
  'docker',
  async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-docker-'));
    dataDirs.push(dataDir);
    const runtime = createDockerRuntime({ log: silentLogger(), dataDir }, {});
    try {
      await runtime.probe();
    } catch (err) {
      if (isBerthError(err) && err.code === 'E_RUNTIME_UNAVAILABLE') {
        return { skip: missingReason('docker', `no Docker engine answers \`docker info\`: ${err.message}`) };
      }
      throw err;
    }
    await ensureTestImage('docker');
    return runtime;
  },
  {
    image: TEST_IMAGE,
    httpServer: ['sh', '-c', 'echo berth-ready; exec httpd -f -p "$PORT" -h /www'],
    readyMarker: 'berth-ready',
    body: TEST_IMAGE_BODY,
    ticker: ['sh', '-c', 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done'],
    exit3: ['sh', '-c', 'echo first; echo oops >&2; sleep 0.3; echo last; exit 3'],
    missingImage: 'berth.invalid/no-such-image:latest',
    removeImage: async (tag) => {
      await execFileAsync('docker', ['rmi', '-f', tag]).catch(() => undefined);
    },
  },
);

after(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});
