/**
 * Option injection through the API (issue 11, item 2), against real podman and real docker: a
 * member's `POST /api/workspaces` with an option-shaped image (`--privileged`, `-v`, …) ran a
 * privileged container. Each field a user controls gets an option-shaped value here: the bad ones
 * are refused 400 with a code and a hint and leave no container behind; the ones that are fine as
 * data (a command argument, an env value) reach the container as data, never the engine.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestDaemon, type TestDaemon } from '../support/daemon.js';
import { login } from '../support/origins.js';
import { ensureTestImage } from '../support/test-image.js';
import { missingReason } from '../support/require.js';

const run = promisify(execFile);

type Engine = 'podman' | 'docker';
const engineMissing = async (bin: Engine): Promise<string | false> =>
  run(bin, ['info'], { timeout: 30_000 }).then(
    () => false,
    (err: { stderr?: string; message: string }) => missingReason(bin, `\`${bin} info\` fails: ${(err.stderr || err.message).trim().split('\n')[0]}`),
  );
const skips: Record<Engine, string | false> = { podman: await engineMissing('podman'), docker: await engineMissing('docker') };
for (const [bin, why] of Object.entries(skips)) if (why) console.error(`SKIPPED ${bin} option-injection tests: ${why}`);

/** A member's dashboard session as request headers (cookie, CSRF token, the dashboard's Origin). */
async function memberHeaders(t: TestDaemon, username: string, password: string): Promise<Record<string, string>> {
  const session = await login(t, username, password);
  return { cookie: session.cookie, 'x-csrf-token': session.csrf, origin: new URL(t.daemon.url).origin };
}

for (const bin of ['podman', 'docker'] as const) {
  describe(`option-shaped input through the API on ${bin}`, { skip: skips[bin] }, () => {
    let t: TestDaemon;
    let image: string;
    let env: NodeJS.ProcessEnv;
    let member: Record<string, string>;
    /** Engine CLI with the daemon's configuration (podman: its containers.conf). */
    const engine = async (...argv: string[]): Promise<string> => (await run(bin, argv, { env })).stdout;
    /** Containers of the workspace named `name`, whatever their state. */
    const containersOf = async (name: string): Promise<string[]> =>
      (await engine('ps', '-a', '--no-trunc', '--filter', `label=berth.name=${name}`, '--format', '{{.ID}}')).split('\n').filter(Boolean);
    /** `POST /api/workspaces` as the member. */
    const create = (body: Record<string, unknown>) => t.api('POST', '/api/workspaces', body, { token: null, headers: member });

    before(async () => {
      t = await startTestDaemon({ runtime: bin });
      env = bin === 'podman' ? { ...process.env, CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : process.env;
      image = await ensureTestImage(bin, bin === 'podman' ? { CONTAINERS_CONF: env.CONTAINERS_CONF } : {});
      assert.equal((await t.api('POST', '/api/users', { username: 'mia', password: 'mia-password-123', role: 'member' })).status, 201);
      member = await memberHeaders(t, 'mia', 'mia-password-123');
    });
    after(async () => {
      await t?.stop();
    });

    it('refuses the reproduction (image --privileged, the real image as the first command word): 400, no container', async () => {
      const name = `inj-priv-${bin}`;
      const res = await create({ name, image: '--privileged', command: [image, 'sh', '-c', 'grep CapEff /proc/self/status; sleep 600'] });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'E_BAD_REQUEST');
      assert.match(res.body.error.message, /^image: "--privileged" must not start with "-"/);
      assert.match(res.body.error.hint, /image reference like/);
      assert.deepEqual(await containersOf(name), [], 'no container may be created');
      assert.equal((await t.api('GET', '/api/workspaces')).body.workspaces.length, 0);
    });

    const badImages: [string, string][] = [
      ['-v', 'a short option'],
      ['--volume=/:/host', 'an option with its value'],
      [' localhost/berth-test:latest', 'a leading space'],
      ['localhost/berth-test:latest\n--privileged', 'a newline'],
      ['localhost/berth-test:latest\0', 'a NUL'],
      ['LOCALHOST/BERTH-TEST', 'upper case'],
    ];
    for (const [bad, what] of badImages) {
      it(`refuses an image with ${what}: 400 E_BAD_REQUEST, no container`, async () => {
        const name = `inj-img-${bad.length}-${bin}`;
        const res = await create({ name, image: bad, command: ['sleep', '600'] });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'E_BAD_REQUEST');
        assert.match(res.body.error.message, /^image: /);
        assert.match(res.body.error.hint, /image reference like/);
        assert.deepEqual(await containersOf(name), []);
      });
    }

    it('refuses option-shaped env names (--privileged, A=B): 400 E_BAD_REQUEST, no container', async () => {
      for (const key of ['--privileged', 'A=B', '-e']) {
        const res = await create({ name: 'inj-env', image, command: ['sleep', '600'], env: { [key]: 'x' } });
        assert.equal(res.status, 400, `${key}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'E_BAD_REQUEST');
        assert.match(res.body.error.message, /env/);
        assert.match(res.body.error.hint, /letters, digits/);
      }
      assert.deepEqual(await containersOf('inj-env'), []);
    });

    it('refuses an option-shaped name (-x): 400 E_INVALID_NAME, no container', async () => {
      const res = await create({ name: '-x', image, command: ['sleep', '600'] });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'E_INVALID_NAME');
      assert.match(res.body.error.hint, /lowercase letters/);
      assert.deepEqual(await containersOf('-x'), []);
    });

    it('refuses a NUL in a command argument or env value: 400, not an engine error', async () => {
      for (const body of [{ command: ['echo', 'a\0b'] }, { command: ['sleep', '600'], env: { X: 'a\0b' } }]) {
        const res = await create({ name: 'inj-nul', image, ...body });
        assert.equal(res.status, 400, JSON.stringify(res.body));
        assert.equal(res.body.error.code, 'E_BAD_REQUEST');
        assert.match(res.body.error.message, /NUL/);
        assert.match(res.body.error.hint, /NUL byte/);
      }
      assert.deepEqual(await containersOf('inj-nul'), []);
    });

    it('passes option-shaped command arguments and env values to the container, not the engine', async () => {
      const res = await create({
        name: 'inj-args',
        image,
        command: ['sh', '-c', 'echo "argv:$*"; echo "env:$X"; grep CapEff /proc/self/status; exec sleep 600', 'sh', '--privileged', '-v', '/:/host'],
        env: { X: '--privileged' },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const [id] = await containersOf('inj-args');
      assert.ok(id, 'the workspace has its container');
      let logs = '';
      for (let i = 0; i < 50 && !logs.includes('CapEff'); i++) {
        logs = (await t.api('GET', '/api/workspaces/inj-args/logs?tail=20', undefined, { token: null, headers: member })).body as string;
        if (!logs.includes('CapEff')) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(logs, /^argv:--privileged -v \/:\/host$/m, 'the arguments reached the command');
      assert.match(logs, /^env:--privileged$/m, 'the env value reached the container');
      assert.doesNotMatch(logs, /CapEff:\s*0*1ffffff/i, 'the container must not hold every capability');
      const hostConfig = JSON.parse(await engine('inspect', '--type', 'container', '--format', '{{json .HostConfig}}', id)) as { Privileged: boolean; Binds: string[] | null };
      assert.equal(hostConfig.Privileged, false);
      assert.ok(!(hostConfig.Binds ?? []).some((b) => b.startsWith('/:')), `no bind of / (binds: ${JSON.stringify(hostConfig.Binds)})`);
    });
  });
}
