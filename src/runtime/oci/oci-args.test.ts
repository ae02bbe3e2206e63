import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildArgs,
  classifyEngineError,
  createArgs,
  engineMessage,
  execArgs,
  logsArgs,
  normalizeState,
  parseCreatedId,
  parseInfoVersion,
  parseInspect,
  parsePsOutput,
  psArgs,
  classifyVolumeError,
  volumeRmArgs,
  classifyNetworkError,
  networkCreateArgs,
  networkLsArgs,
  networkRmArgs,
  parseNetworkLs,
  networkConnectArgs,
  networkDisconnectArgs,
  volumeCreateArgs,
} from './oci-args.js';

describe('createArgs', () => {
  it('builds options, then --, image and command — loopback-only ports', () => {
    const args = createArgs({
      name: 'berth-ws-abc',
      image: 'localhost/img:1',
      command: ['sh', '-c', 'echo "$X"; exit 0'],
      env: { X: 'a b=c', PORT: '8000' },
      ports: [
        { containerPort: 8000, hostPort: 9000 },
        { containerPort: 8001, hostPort: 9001 },
      ],
      labels: { 'berth.kind': 'workspace', 'berth.id': 'abc' },
      resources: { cpus: 1.5, memoryMb: 512 },
      dnsServers: ['1.1.1.1'],
      files: [{ hostPath: '/d/bin/berth-url', containerPath: '/usr/local/bin/berth-url' }],
    });
    assert.deepEqual(args, [
      'create', '--name=berth-ws-abc',
      '--label=berth.kind=workspace', '--label=berth.id=abc',
      '--env=X=a b=c', '--env=PORT=8000',
      '--publish=127.0.0.1:9000:8000', '--publish=127.0.0.1:9001:8001',
      '--dns=1.1.1.1',
      '--cpus=1.5', '--memory=512m',
      '--volume=/d/bin/berth-url:/usr/local/bin/berth-url:ro',
      '--', 'localhost/img:1',
      'sh', '-c', 'echo "$X"; exit 0',
    ]);
  });

  it('mounts named volumes as name:target, after the read-only files', () => {
    const args = createArgs({
      name: 'n', image: 'i', env: {}, ports: [], labels: { 'berth.kind': 'app', 'berth.id': 'a' },
      files: [{ hostPath: '/h', containerPath: '/c' }],
      volumes: [{ name: 'berth-app-a-data', target: '/data' }, { name: 'berth-app-a-cfg', target: '/etc/app' }],
    });
    assert.deepEqual(args.slice(-5), ['--volume=/h:/c:ro', '--volume=berth-app-a-data:/data', '--volume=berth-app-a-cfg:/etc/app', '--', 'i']);
  });

  it('joins a network with its aliases, before the image', () => {
    const args = createArgs({
      name: 'n', image: 'i', command: ['run'], env: {}, ports: [{ containerPort: 80, hostPort: 9000 }], labels: { 'berth.kind': 'preview', 'berth.id': 'p' },
      network: { name: 'berth-pv-p', aliases: ['web', 'www'] },
    });
    // Published ports stay on loopback: the network is for the workloads, the edge still dials 127.0.0.1.
    assert.deepEqual(args.slice(-7), ['--publish=127.0.0.1:9000:80', '--network=berth-pv-p', '--network-alias=web', '--network-alias=www', '--', 'i', 'run']);
  });

  it('leaves the image default command alone when none is given', () => {
    const args = createArgs({ name: 'n', image: 'i', env: {}, ports: [], labels: { 'berth.kind': 'k', 'berth.id': 'i' } });
    assert.deepEqual(args.slice(-2), ['--', 'i']);
  });

  it('keeps option-shaped values out of option position: each in its flag\'s word, or after --', () => {
    const args = createArgs({
      name: '-x', image: '--privileged', command: ['--privileged', '-v', '/:/host'],
      env: { X: '--privileged', Y: '-v' }, ports: [], labels: { 'berth.kind': '--privileged' },
      network: { name: '--net', aliases: ['-a'] }, volumes: [{ name: '-v', target: '/d' }], dnsServers: ['-x'],
    });
    const end = args.indexOf('--');
    assert.ok(end > 0, 'options end with --');
    // Before --: only Berth's own flags, every one carrying its value after "=".
    for (const a of args.slice(1, end)) assert.match(a, /^--[a-z-]+=/, `${a} is a flag with its value in the same word`);
    assert.deepEqual(args.slice(end + 1), ['--privileged', '--privileged', '-v', '/:/host'], 'image then command, after --');
  });
});

describe('small builders', () => {
  const cases: [string, string[], string[]][] = [
    ['logs plain', logsArgs('c1'), ['logs', '--', 'c1']],
    ['logs follow+tail', logsArgs('c1', { follow: true, tail: 5 }), ['logs', '-f', '--tail=5', '--', 'c1']],
    ['logs with timestamps', logsArgs('c1', { tail: 1, timestamps: true }), ['logs', '--timestamps', '--tail=1', '--', 'c1']],
    ['logs of an option-shaped ref', logsArgs('--all', { tail: -3 }), ['logs', '--tail=0', '--', '--all']],
    ['exec plain', execArgs('c1', ['ls', '-l']), ['exec', '--', 'c1', 'ls', '-l']],
    ['exec tty+env', execArgs('c1', ['sh'], { tty: true, env: { A: '1' } }), ['exec', '-i', '-t', '--env=A=1', '--', 'c1', 'sh']],
    ['exec option-shaped argv and env', execArgs('c1', ['--privileged'], { env: { X: '-v' } }), ['exec', '--env=X=-v', '--', 'c1', '--privileged']],
    ['ps', psArgs({ 'berth.kind': 'app', 'berth.id': 'x' }, 'json'), ['ps', '-a', '--no-trunc', '--filter=label=berth.kind=app', '--filter=label=berth.id=x', '--format=json']],
    ['ps with an option-shaped label value', psArgs({ 'berth.id': '--all' }, '{{json .}}'), ['ps', '-a', '--no-trunc', '--filter=label=berth.id=--all', '--format={{json .}}']],
    ['build', buildArgs('/ctx', '/ctx/Containerfile', 'localhost/t:1'), ['build', '--file=/ctx/Containerfile', '--tag=localhost/t:1', '--', '/ctx']],
    ['build with option-shaped values', buildArgs('-ctx', '--file', '--tag'), ['build', '--file=--file', '--tag=--tag', '--', '-ctx']],
    ['volume rm of an option-shaped name', volumeRmArgs('-f'), ['volume', 'rm', '--', '-f']],
    ['network rm of an option-shaped name', networkRmArgs('--force'), ['network', 'rm', '--', '--force']],
  ];
  for (const [name, got, want] of cases) it(name, () => assert.deepEqual(got, want));
});

describe('normalizeState', () => {
  const table: [string, string][] = [
    ['running', 'running'], ['paused', 'running'], ['restarting', 'running'],
    ['created', 'created'], ['configured', 'created'], ['Initialized', 'created'],
    ['exited', 'exited'], ['stopped', 'exited'], ['dead', 'exited'], ['', 'exited'],
  ];
  for (const [raw, want] of table) it(`${raw || '(empty)'} → ${want}`, () => assert.equal(normalizeState(raw), want));
});

describe('parseInspect', () => {
  it('normalizes an exited container', () => {
    const json = JSON.stringify([{ State: { Status: 'exited', ExitCode: 3, StartedAt: '2026-01-01T00:00:00Z', FinishedAt: '2026-01-01T00:00:01Z' } }]);
    assert.deepEqual(parseInspect(json), {
      state: 'exited', exitCode: 3, upstreamHost: '127.0.0.1', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z', networkAddress: null,
    });
  });
  it('reports a running container’s address on its network (podman: per network; docker: top level)', () => {
    const podman = [{ State: { Status: 'running' }, NetworkSettings: { IPAddress: '', Networks: { podman: { IPAddress: '10.88.0.7' } } } }];
    assert.equal(parseInspect(JSON.stringify(podman)).networkAddress, '10.88.0.7');
    const docker = [{ State: { Status: 'running' }, NetworkSettings: { IPAddress: '172.17.0.3', Networks: {} } }];
    assert.equal(parseInspect(JSON.stringify(docker)).networkAddress, '172.17.0.3');
  });
  it('reports no exit code and null times for a created container (engines say 0 and year 1)', () => {
    const json = JSON.stringify([{ State: { Status: 'created', ExitCode: 0, StartedAt: '0001-01-01T00:00:00Z', FinishedAt: '0001-01-01T00:00:00Z' } }]);
    const st = parseInspect(json);
    assert.equal(st.state, 'created');
    assert.equal(st.exitCode, null);
    assert.equal(st.startedAt, null);
    assert.equal(st.finishedAt, null);
  });
  it('treats an empty array as missing', () => assert.equal(parseInspect('[]').state, 'missing'));
});

describe('parsePsOutput', () => {
  it('reads podman’s JSON array', () => {
    const out = JSON.stringify([{ Id: 'abc123', Names: ['web'], Labels: { 'berth.kind': 'workspace' }, State: 'running' }]);
    assert.deepEqual(parsePsOutput(out), [{ ref: 'abc123', name: 'web', labels: { 'berth.kind': 'workspace' }, state: 'running' }]);
  });
  it('reads docker’s JSON lines with joined labels', () => {
    const out = [
      JSON.stringify({ ID: 'd1', Names: 'web', Labels: 'berth.kind=workspace,berth.id=a=b', State: 'exited' }),
      JSON.stringify({ ID: 'd2', Names: 'api,alias', Labels: '', State: 'created' }),
      '',
    ].join('\n');
    assert.deepEqual(parsePsOutput(out), [
      { ref: 'd1', name: 'web', labels: { 'berth.kind': 'workspace', 'berth.id': 'a=b' }, state: 'exited' },
      { ref: 'd2', name: 'api', labels: {}, state: 'created' },
    ]);
  });
  it('reads nothing as no containers', () => {
    assert.deepEqual(parsePsOutput(''), []);
    assert.deepEqual(parsePsOutput('[]\n'), []);
  });
});

describe('engine output', () => {
  it('parseCreatedId takes the id on the last line', () => {
    assert.equal(parseCreatedId(`Trying to pull…\n${'a'.repeat(64)}\n`), 'a'.repeat(64));
    assert.equal(parseCreatedId('not an id\n'), null);
  });
  it('engineMessage keeps Error lines over retry warnings', () => {
    const stderr = 'Trying to pull x...\ntime="…" level=warning msg="Failed, retrying"\nError: initializing source: no such host\n';
    assert.equal(engineMessage(stderr), 'Error: initializing source: no such host');
    assert.equal(engineMessage('  Cannot connect to the Docker daemon.  \n'), 'Cannot connect to the Docker daemon.');
  });
  it('classifyEngineError recognizes both engines’ wording', () => {
    assert.equal(classifyEngineError('Error: no container with name or ID "x" found: no such container'), 'not-found');
    assert.equal(classifyEngineError('Error response from daemon: No such container: x'), 'not-found');
    assert.equal(classifyEngineError('Error: can only create exec sessions on running containers: container state improper'), 'not-running');
    assert.equal(classifyEngineError('Error response from daemon: container abc is not running'), 'not-running');
    assert.equal(classifyEngineError('Error: creating container storage: the container name "w" is already in use by 35…'), 'name-taken');
    assert.equal(classifyEngineError('Error: pinging container registry: no such host'), null);
  });
  it('volume rm: no -f (podman would remove the containers using it); errors classified', () => {
    assert.deepEqual(volumeRmArgs('v'), ['volume', 'rm', '--', 'v']);
    assert.equal(classifyVolumeError('Error: no volume with name "x" found: no such volume'), 'not-found');
    assert.equal(classifyVolumeError('Error response from daemon: get x: no such volume'), 'not-found');
    assert.equal(classifyVolumeError('Error: volume x is being used by the following container(s): abc: volume is being used'), 'in-use');
    assert.equal(classifyVolumeError('Error response from daemon: remove x: volume is in use - [abc]'), 'in-use');
    assert.equal(classifyVolumeError('Error: something else'), null);
  });

  it('network connect/disconnect and volume create argv: options joined to their values, positionals after --', () => {
    assert.deepEqual(networkConnectArgs('berth-t-app-a', 'c0ffee', ['a', 'b']), ['network', 'connect', '--alias=a', '--alias=b', '--', 'berth-t-app-a', 'c0ffee']);
    assert.deepEqual(networkDisconnectArgs('n', 'c0ffee'), ['network', 'disconnect', '--', 'n', 'c0ffee']);
    assert.deepEqual(volumeCreateArgs('v', { 'berth.installation': 'abc' }), ['volume', 'create', '--label=berth.installation=abc', '--', 'v']);
  });

  it('network create/rm/ls argv: driver options, labels, then the name; rm without -f', () => {
    assert.deepEqual(networkCreateArgs('berth-pv-x', { 'berth.kind': 'preview', 'berth.id': 'x' }, ['--opt', 'isolate=true']), [
      'network', 'create', '--opt', 'isolate=true', '--label=berth.kind=preview', '--label=berth.id=x', '--', 'berth-pv-x',
    ]);
    assert.deepEqual(networkCreateArgs('n', {}), ['network', 'create', '--', 'n']);
    assert.deepEqual(networkRmArgs('n'), ['network', 'rm', '--', 'n']);
    assert.deepEqual(networkLsArgs({ 'berth.kind': 'preview' }, 'json'), ['network', 'ls', '--filter=label=berth.kind=preview', '--format=json']);
  });
  it('parseNetworkLs reads podman’s array and docker’s lines, keeping only rows with every label', () => {
    const podman = JSON.stringify([
      { name: 'berth-pv-a', driver: 'bridge', labels: { 'berth.kind': 'preview', 'berth.id': 'a' } },
      { name: 'podman', driver: 'bridge' },
    ]);
    assert.deepEqual(parseNetworkLs(podman), [
      { name: 'berth-pv-a', labels: { 'berth.kind': 'preview', 'berth.id': 'a' } },
      { name: 'podman', labels: {} },
    ]);
    assert.deepEqual(parseNetworkLs(podman, { 'berth.kind': 'preview' }).map((n) => n.name), ['berth-pv-a']);
    const docker = [JSON.stringify({ ID: '1', Name: 'berth-pv-b', Labels: 'berth.kind=preview,berth.id=b' }), ''].join('\n');
    assert.deepEqual(parseNetworkLs(docker, { 'berth.id': 'b' }), [{ name: 'berth-pv-b', labels: { 'berth.kind': 'preview', 'berth.id': 'b' } }]);
    assert.deepEqual(parseNetworkLs('[]\n'), []);
    assert.deepEqual(parseNetworkLs(''), []);
  });
  it('classifyNetworkError recognizes both engines’ wording', () => {
    assert.equal(classifyNetworkError('Error: network name n already used: network already exists'), 'exists');
    assert.equal(classifyNetworkError('Error response from daemon: network with name n already exists'), 'exists');
    assert.equal(classifyNetworkError('Error: unable to find network with name or ID n: network not found'), 'not-found');
    assert.equal(classifyNetworkError('Error response from daemon: network n not found'), 'not-found');
    assert.equal(classifyNetworkError('Error: No such network: n'), 'not-found');
    assert.equal(classifyNetworkError('Error: "n" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used'), 'in-use');
    assert.equal(classifyNetworkError('Error response from daemon: error while removing network: network n id 12ab has active endpoints'), 'in-use');
    assert.equal(classifyNetworkError('Error: something else'), null);
  });

  it('parseInfoVersion reads podman and docker info', () => {
    assert.equal(parseInfoVersion('{"version":{"Version":"4.3.1"}}'), '4.3.1');
    assert.equal(parseInfoVersion('{"ServerVersion":"28.2.2"}'), '28.2.2');
    assert.equal(parseInfoVersion('garbage'), null);
  });
});
