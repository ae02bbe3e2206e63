/**
 * Defence in depth below the API (issue 11, item 2): the podman and docker drivers themselves
 * refuse option-shaped values in every field they put in an engine's argv, before any process
 * runs, and hand option-shaped command arguments to the container. Real engines, no mocks: each
 * refusal is checked against what the engine then holds (nothing created, nothing removed).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isBerthError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { createDockerRuntime, createPodmanRuntime } from '../../src/runtime/oci/engines.js';
import type { Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';
import { ensureTestImage } from '../support/test-image.js';
import { missingReason } from '../support/require.js';

const drivers = { podman: createPodmanRuntime, docker: createDockerRuntime } as const;

/** Asserts `p` rejects with E_BAD_REQUEST whose message matches `message`. */
async function refused(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isBerthError(err), `not a BerthError: ${String(err)}`);
    assert.equal(err.code, 'E_BAD_REQUEST', err.message);
    assert.match(err.message, message);
    assert.ok(err.hint, 'a refusal carries a hint');
    return true;
  });
}

for (const [bin, factory] of Object.entries(drivers)) {
  const dataDir = await mkdtemp(path.join(tmpdir(), `berth-inj-${bin}-`));
  const rt: Runtime = factory({ log: silentLogger(), dataDir }, {});
  const skip = await rt.probe().then(() => false, (err: Error) => missingReason(bin as 'podman' | 'docker', `no ${bin} engine: ${err.message}`));
  if (skip) console.error(`SKIPPED ${bin} driver option-injection tests: ${skip}`);

  describe(`${bin} driver refuses option-shaped values before the engine sees them`, { skip }, () => {
    const id = randomBytes(4).toString('hex');
    const labels = { 'berth.kind': 'inj-test', 'berth.id': id };
    let image: string;
    let spec: WorkloadSpec;
    let ref: string;
    const ours = async () => (await rt.list(labels)).map((w) => w.name).sort();

    before(async () => {
      image = await ensureTestImage(bin, bin === 'podman' ? { CONTAINERS_CONF: path.join(dataDir, 'containers.conf') } : {});
      spec = { name: `berth-inj-${id}`, image, command: ['sh', '-c', 'echo "argv:$*"; exec sleep 600', 'sh', '--privileged', '-v', '/:/host'], env: { X: '--privileged' }, ports: [], labels };
      ref = await rt.create(spec);
      await rt.start(ref);
    });
    after(async () => {
      for (const w of await rt.list(labels).catch(() => [])) await rt.remove(w.ref).catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    });

    const badSpecs: [string, Partial<WorkloadSpec>, RegExp][] = [
      ['image --privileged (the reproduction)', { image: '--privileged' }, /image "--privileged" must not start with "-"/],
      ['image -v', { image: '-v' }, /must not start with "-"/],
      ['image with a newline', { image: 'localhost/berth-test:latest\n--privileged' }, /whitespace/],
      ['name -x', { name: '-x' }, /invalid workload name "-x"/],
      ['env name --privileged', { env: { '--privileged': '1' } }, /invalid env name/],
      ['env name A=B', { env: { 'A=B': '1' } }, /invalid env name "A=B"/],
      ['label key --privileged', { labels: { ...labels, '--privileged': 'x' } }, /invalid label key/],
      ['DNS server --privileged', { dnsServers: ['--privileged'] }, /invalid DNS server/],
      ['volume name -v', { volumes: [{ name: '-v', target: '/data' }] }, /invalid volume name/],
      ['network name --network=host', { network: { name: '--network=host', aliases: [] } }, /invalid network name/],
      ['network alias -a', { network: { name: 'bridge', aliases: ['-a'] } }, /invalid network alias/],
      ['mounted file -v', { files: [{ hostPath: '-v', containerPath: '/x' }] }, /absolute path/],
    ];
    for (const [what, change, message] of badSpecs) {
      it(`create: refuses ${what}, creates nothing`, async () => {
        const name = `berth-inj-${id}-${badSpecs.findIndex(([w]) => w === what)}`;
        await refused(rt.create({ ...spec, name, ...change, ...(change.image === '--privileged' ? { command: [image, 'sleep', '600'] } : {}) }), message);
        assert.deepEqual(await ours(), [spec.name], 'only the valid workload exists');
      });
    }

    it('create: option-shaped command arguments and env values reach the container', async () => {
      let logs = '';
      for (let i = 0; i < 50 && !logs.includes('argv:'); i++) {
        const chunks: Buffer[] = [];
        for await (const c of await rt.logs(ref, { tail: 5 })) chunks.push(Buffer.from(c as Buffer));
        logs = Buffer.concat(chunks).toString();
        if (!logs.includes('argv:')) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(logs, /^argv:--privileged -v \/:\/host$/m);
    });

    it('exec: option-shaped arguments and env values reach the command; bad env names and refs are refused', async () => {
      const res = await rt.exec(ref, ['sh', '-c', 'echo "$* $Y"', 'sh', '--privileged', '-v'], { env: { Y: '--env=Z' } });
      assert.equal(res.kind, 'result');
      assert.equal(res.kind === 'result' && res.stdout.trim(), '--privileged -v --env=Z');
      await refused(rt.exec(ref, ['true'], { env: { '--privileged': '1' } }), /invalid env name/);
      await refused(rt.exec('--privileged', ['true']), /invalid container reference "--privileged"/);
    });

    it('start, stop, rm, inspect, logs: an option-shaped ref is refused, and nothing is removed', async () => {
      // Not `--all`: should both walls ever fall, `podman rm -f --all` would remove every container
      // on the shared engine (it did, once, while this test was written against the old driver).
      // This filter matches only this test's own workloads.
      const bad = `--filter=label=berth.id=${id}`;
      for (const call of [rt.start(bad), rt.stop(bad), rt.remove(bad), rt.inspect(bad), rt.logs('-f')]) {
        await refused(call, /invalid container reference/);
      }
      assert.equal((await rt.inspect(ref)).state, 'running', 'the real workload is untouched');
    });

    it('ps, build, rmi, volumes, networks: option-shaped names, tags, paths and labels are refused', async () => {
      await refused(rt.list({ '--all': 'x' }), /invalid label key/);
      const ctx = path.join(dataDir, '-ctx');
      await mkdir(ctx, { recursive: true });
      await writeFile(path.join(ctx, 'Containerfile'), `FROM ${image}\n`);
      await refused(rt.build!(ctx, 'Containerfile', '--privileged'), /image "--privileged"/);
      await refused(rt.build!('-ctx', 'Containerfile', 'localhost/x:1'), /build context "-ctx" must be an absolute path/);
      await refused(rt.removeImage!('--all'), /must not start with "-"/);
      await refused(rt.removeVolume!('-f'), /invalid volume name/);
      await refused(rt.createNetwork!('--internal', labels), /invalid network name/);
      await refused(rt.createNetwork!(`berth-inj-${id}`, { '-x': 'y' }), /invalid label key/);
      await refused(rt.removeNetwork!('-f'), /invalid network name/);
      // A context directory whose name starts with "-" is fine: it is an absolute path after `--`.
      const tag = `localhost/berth-inj-${id}:1`;
      await rt.build!(ctx, 'Containerfile', tag);
      await rt.removeImage!(tag);
    });
  });
}
