import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkloadSpec } from '../runtime.js';
import { commandProblem, envProblem, hostPathProblem, labelsProblem, refProblem, specProblem } from './argv-guard.js';

const base: WorkloadSpec = {
  name: 'berth-ws-abc',
  image: 'localhost/img:1',
  command: ['sh', '-c', 'echo "$@"', 'sh', '--privileged', '-v', '/:/host'],
  env: { X: '--privileged', PORT: '8000' },
  ports: [{ containerPort: 8000, hostPort: 9000 }],
  labels: { 'berth.kind': 'workspace', 'berth.id': 'abc', 'berth.name': '--all' },
  resources: { cpus: 1.5, memoryMb: 512 },
  dnsServers: ['1.1.1.1', '::1'],
  files: [{ hostPath: '/d/bin/berth-url', containerPath: '/usr/local/bin/berth-url' }],
  volumes: [{ name: 'berth-app-a-data', target: '/data' }],
  network: { name: 'berth-pv-p', aliases: ['web'] },
};

describe('specProblem', () => {
  it('accepts a full spec whose option-shaped values are data (command args, env values, label values)', () => {
    assert.equal(specProblem(base), null);
  });

  const refused: [string, Partial<WorkloadSpec>, RegExp][] = [
    ['image --privileged', { image: '--privileged' }, /image "--privileged" must not start with "-"/],
    ['image -v', { image: '-v' }, /must not start with "-"/],
    ['image with a newline', { image: 'img\n--privileged' }, /whitespace/],
    ['empty image', { image: '' }, /required/],
    ['name -x', { name: '-x' }, /invalid workload name "-x"/],
    ['name with a space', { name: 'a b' }, /invalid workload name/],
    ['env name --privileged', { env: { '--privileged': '1' } }, /invalid env name "--privileged"/],
    ['env name A=B', { env: { 'A=B': '1' } }, /invalid env name "A=B"/],
    ['env value with NUL', { env: { A: 'x\0y' } }, /NUL/],
    ['label key --privileged', { labels: { 'berth.kind': 'k', 'berth.id': 'i', '--privileged': 'x' } }, /invalid label key "--privileged"/],
    ['label key k=v', { labels: { 'a=b': 'x' } }, /invalid label key/],
    ['label value with a newline', { labels: { a: 'x\n--privileged' } }, /control character/],
    ['dns server -x', { dnsServers: ['--privileged'] }, /invalid DNS server/],
    ['port 0', { ports: [{ containerPort: 0, hostPort: 9000 }] }, /ports/],
    ['cpus NaN', { resources: { cpus: Number.NaN } }, /cpus/],
    ['memory -1', { resources: { memoryMb: -1 } }, /memoryMb/],
    ['relative mounted file', { files: [{ hostPath: '-v', containerPath: '/x' }] }, /absolute path/],
    ['mount target with a colon', { files: [{ hostPath: '/a', containerPath: '/x:rw' }] }, /absolute path/],
    ['volume name -v', { volumes: [{ name: '-v', target: '/d' }] }, /invalid volume name/],
    ['network name --net', { network: { name: '--net', aliases: [] } }, /invalid network name/],
    ['network alias -a', { network: { name: 'n', aliases: ['-a'] } }, /invalid network alias/],
    ['command argument with NUL', { command: ['echo', 'a\0b'] }, /NUL/],
  ];
  for (const [what, change, message] of refused) {
    it(`refuses ${what}`, () => assert.match(specProblem({ ...base, ...change }) ?? '(accepted)', message));
  }
});

describe('single checks', () => {
  it('refs: engine ids and names only', () => {
    for (const ok of ['0123abcdef', 'berth-ws-abc', 'berth-pv-x-g1-web', 'a.b_c']) assert.equal(refProblem(ok), null, ok);
    for (const bad of ['--all', '-x', '', 'a b', 'a/b', 'a\nb']) assert.match(refProblem(bad) ?? '(accepted)', /invalid container reference/, bad);
  });
  it('env, labels, command, host paths', () => {
    assert.equal(envProblem({ _A1: '--x' }), null);
    assert.match(envProblem({ '1A': 'x' }) ?? '', /invalid env name/);
    assert.equal(labelsProblem({ 'io.example/x-y_z': 'any value, even --all' }), null);
    assert.match(labelsProblem({ '-x': 'v' }) ?? '', /invalid label key/);
    assert.equal(commandProblem(['--privileged', '-v']), null);
    assert.equal(hostPathProblem('build context', '/srv/repo/app'), null);
    assert.match(hostPathProblem('build context', '--build-arg=x') ?? '', /absolute path/);
    assert.match(hostPathProblem('build context', 'relative') ?? '', /absolute path/);
  });
});
