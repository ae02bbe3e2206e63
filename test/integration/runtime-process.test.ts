/**
 * The process driver through the shared conformance suite. It needs nothing but Node, so it never
 * skips. Workloads are Node one-liners (the host has no busybox guarantee, but it has this Node).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { createProcessRuntime } from '../../src/runtime/process/process-runtime.js';
import { runtimeConformanceSuite } from '../../src/runtime/runtime.suite.js';

const node = process.execPath;
const dataDirs: string[] = [];

const server = `
const port = Number(process.env.PORT);
require('node:http')
  .createServer((req, res) => res.end('berth-process-ok\\n'))
  .listen(port, '127.0.0.1', () => console.log('berth-ready on ' + port));
`;

runtimeConformanceSuite(
  'process',
  async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-process-'));
    dataDirs.push(dataDir);
    return createProcessRuntime({ log: silentLogger(), dataDir }, {});
  },
  {
    image: 'ignored',
    httpServer: [node, '-e', server],
    readyMarker: 'berth-ready',
    body: 'berth-process-ok\n',
    ticker: [node, '-e', "let i = 0; setInterval(() => console.log('tick ' + i++), 200);"],
    exit3: [node, '-e', "console.log('first'); console.error('oops'); setTimeout(() => { console.log('last'); process.exitCode = 3; }, 300);"],
  },
);

after(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});
