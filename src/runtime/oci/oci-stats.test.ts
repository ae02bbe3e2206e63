import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { missingReason } from '../../../test/support/require.js';
import { silentLogger } from '../../log.js';
import { createDockerRuntime } from './engines.js';
import { parseDockerStats, parsePodmanStats, parseSize, parseSizes, sizeArgs, statsArgs } from './oci-stats.js';

// Captured on this host: a CPU burner limited to --cpus=0.5 --memory=64m (`usage-probe`) and an
// idle container without limits that wrote 300 KiB to /tmp (`usage-probe2`).
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const PODMAN = { burner: 'e7688de66c276827610d388a9e8346a7120108439f20706dedc02f3a0c8d9873', idle: 'af76a409f76aa900af3c858d89d3b7b9fd6f62483bc1cdb905915f6bce14db3b' };
const DOCKER = { burner: '3dcbe8712b0077a8ea9eadc1078855e0fbcb64ef18194560510224ef3f9568fe', idle: '1dd5ee9542bf04494f4ff6ec04a2d71e43881e1f5537ffbb21f9a770c5e29255' };

describe('engine stats argv', () => {
  it('puts every ref after --, the format in its own word', () => {
    assert.deepEqual(statsArgs('podman', ['abc', '-x']), ['stats', '--no-stream', '--no-trunc', '--format={{json .ContainerStats}}', '--', 'abc', '-x']);
    assert.deepEqual(statsArgs('docker', ['abc']), ['stats', '--no-stream', '--no-trunc', '--format={{json .}}', '--', 'abc']);
    assert.deepEqual(sizeArgs(['abc']), ['container', 'inspect', '--size', '--format={{.Id}} {{.SizeRw}}', '--', 'abc']);
  });
});

describe('podman 4.3 stats (captured)', () => {
  const stats = parsePodmanStats(fixture('podman-4.3-stats.jsonl'), [PODMAN.burner, PODMAN.idle.slice(0, 12)], 1000);
  it('reads raw counters: CPU nanoseconds, memory bytes and limit, pids', () => {
    assert.deepEqual(stats.get(PODMAN.burner), {
      cpuSeconds: 32.599103709,
      cpuPercent: null,
      memoryBytes: 425984,
      memoryLimitBytes: 67108864,
      pids: 1,
      diskBytes: null,
      at: 1000,
    });
  });
  it('matches a ref given as a short id, and reports the host memory as the limit of an unlimited one', () => {
    const idle = stats.get(PODMAN.idle.slice(0, 12));
    assert.equal(idle?.memoryBytes, 585728);
    assert.equal(idle?.memoryLimitBytes, 25276071936);
  });
  it('leaves out containers nobody asked for, and survives junk lines', () => {
    assert.equal(parsePodmanStats(fixture('podman-4.3-stats.jsonl'), [PODMAN.idle], 0).size, 1);
    assert.equal(parsePodmanStats('WARN something\n\n{"ContainerID":"' + PODMAN.idle + '"}\n', [PODMAN.idle], 0).get(PODMAN.idle)?.memoryBytes, 0);
  });
});

describe('docker 28 stats (captured)', () => {
  const stats = parseDockerStats(fixture('docker-28-stats.jsonl'), [DOCKER.burner, DOCKER.idle], 5);
  it('reads the formatted percent and binary sizes', () => {
    assert.deepEqual(stats.get(DOCKER.burner), {
      cpuSeconds: null,
      cpuPercent: 31.52,
      memoryBytes: Math.round(1.094 * 1024 * 1024),
      memoryLimitBytes: 64 * 1024 * 1024,
      pids: 1,
      diskBytes: null,
      at: 5,
    });
    assert.equal(stats.get(DOCKER.idle)?.memoryBytes, 340 * 1024);
    assert.equal(stats.get(DOCKER.idle)?.memoryLimitBytes, Math.round(23.54 * 1024 ** 3));
  });
  it('reads a stopped container (0B / 0B) as zeros without a limit', () => {
    const line = '{"BlockIO":"0B / 0B","CPUPerc":"0.00%","ID":"388b627717008ea7a730a064c3ac9ba626d2d9e93eda090397cb809be80dcaa2","MemUsage":"0B / 0B","PIDs":"0"}';
    const s = parseDockerStats(line, ['388b62771700'], 0).get('388b62771700');
    assert.equal(s?.memoryBytes, 0);
    assert.equal(s?.memoryLimitBytes, null);
    assert.equal(s?.cpuPercent, 0);
  });
});

describe('sizes', () => {
  it('parses decimal and binary units', () => {
    assert.equal(parseSize('0B'), 0);
    assert.equal(parseSize('1.5kB'), 1500);
    assert.equal(parseSize(' 2MiB '), 2 * 1024 * 1024);
    assert.equal(parseSize('1GB'), 1e9);
    assert.equal(parseSize('12 parsecs'), null);
    assert.equal(parseSize('--'), null);
  });
  it('reads the writable layer of each container (captured inspect --size)', () => {
    assert.deepEqual([...parseSizes(fixture('podman-4.3-inspect-size.txt'), [PODMAN.idle, PODMAN.burner])], [[PODMAN.idle, 307212], [PODMAN.burner, 12]]);
    assert.deepEqual([...parseSizes(fixture('docker-28-inspect-size.txt'), [DOCKER.idle])], [[DOCKER.idle, 307200]]);
  });
});

describe('stats when the engine does not answer (the real docker CLI, no daemon behind its socket)', () => {
  it('is an E_RUNTIME with the engine\'s words, not an empty answer that reads as "all gone"', async (t) => {
    if (!(await promisify(execFile)('docker', ['--version']).then(() => true, () => false))) return t.skip(missingReason('docker', 'the docker CLI is not installed'));
    const rt = createDockerRuntime({ log: silentLogger(), dataDir: '/nonexistent' }, { env: { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    await assert.rejects(rt.stats!([DOCKER.burner, DOCKER.idle]), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'E_RUNTIME');
      assert.match(err.message, /docker stats failed: .*Cannot connect to the Docker daemon/);
      return true;
    });
  });
});
