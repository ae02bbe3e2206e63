/**
 * Persistent workspace data (issue 12, item 3) on a real runtime: a file written under the data
 * path survives stop/start, a daemon restart and `ws recreate` with another image (a second local
 * image, test-image.ts), and a recreate that fails (missing image) loses nothing; `ws rm` removes
 * the volume (the engine — or, on the process runtime, the filesystem — confirms), `--keep-data`
 * keeps it for `volume ls` and a new workspace; bad data paths are refused with a code.
 * workspace-data-{podman,docker,process}.test.ts run it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { RuntimeName } from '../../src/runtime/runtime.js';
import type { ExecResult } from '../../src/runtime/runtime.js';
import { startTestDaemon, type TestDaemon } from './daemon.js';
import { ensureTestImage, ensureTestImageVariant, VARIANT_FILE } from './test-image.js';

const run = promisify(execFile);

/** A workload that exits at once on SIGTERM (a plain `sleep` as PID 1 would wait out the stop timeout). */
const IDLE_SH = 'trap "exit 0" TERM; while :; do sleep 1; done';

/** Registers the tests for `runtime`; `skip` is why they cannot run here (false: they run). */
export function workspaceData(runtime: RuntimeName, skip: string | false): void {
  describe(`persistent workspace data on ${runtime}`, { skip }, () => {
    let t: TestDaemon;
    let image: string | undefined;
    let variant: string | undefined;
    const engine = runtime === 'process' ? null : runtime;
    const engineEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...(engine === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {}) });
    /** Whether the volume exists, as the engine (or the process driver's directory) says. */
    const volumeExists = async (name: string): Promise<boolean> =>
      engine ? run(engine, ['volume', 'inspect', '--', name], { env: engineEnv() }).then(() => true, () => false) : existsSync(path.join(t.dataDir, 'volumes', name));
    const sh = async (id: string, script: string): Promise<ExecResult> => {
      const r = await t.daemon.workspaces.exec(id, ['sh', '-c', script], {});
      assert.equal(r.kind, 'result');
      return r as ExecResult;
    };
    const create = async (body: Record<string, unknown>) => {
      const res = await t.api('POST', '/api/workspaces', { command: ['sh', '-c', IDLE_SH], ...(image ? { image } : {}), ...body });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body as { id: string; name: string; dataVolume: string | null; dataPath: string | null; ports: { hostPort: number }[]; image: string };
    };
    /** Recreates through the streamed API; resolves to every line. */
    const recreate = async (id: string, body: Record<string, unknown>): Promise<any[]> => {
      const res = await fetch(`${t.daemon.url}/api/workspaces/${id}/recreate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.daemon.token}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /ndjson/);
      return (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    };

    before(async () => {
      t = await startTestDaemon({ runtime, reconcileInterval: 3600 });
      if (engine) {
        image = await ensureTestImage(engine, engine === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {});
        variant = await ensureTestImageVariant('v2', engine, engine === 'podman' ? { CONTAINERS_CONF: path.join(t.dataDir, 'containers.conf') } : {});
      }
    });

    after(async () => {
      if (!t) return;
      for (const ws of t.daemon.workspaces.list()) await t.daemon.workspaces.remove(ws.id).catch(() => {});
      for (const v of await t.daemon.workspaces.volumes.list(null).catch(() => [])) await t.daemon.workspaces.volumes.remove(v.name, null).catch(() => {});
      await t.stop();
    });

    it('a file under the data path survives stop/start, a daemon restart and a recreate with another image', async () => {
      const ws = await create({ name: 'data-a' });
      assert.equal(ws.dataPath, '/workspace');
      assert.match(ws.dataVolume ?? '', new RegExp(`^berth-[0-9a-f]{8}-ws-${ws.id}-data$`), 'named with the installation tag');
      assert.equal(await volumeExists(ws.dataVolume!), true);
      // BERTH_DATA_PATH is the mount (containers) or the host directory the driver put there (process).
      const where = (await sh(ws.id, 'echo "$BERTH_DATA_PATH"')).stdout.trim();
      assert.equal(where === '/workspace', engine !== null, `BERTH_DATA_PATH=${where}`);
      assert.equal((await sh(ws.id, 'echo kept-a > "$BERTH_DATA_PATH/note.txt"')).exitCode, 0);

      assert.equal((await t.api('POST', `/api/workspaces/${ws.id}/stop`)).status, 200);
      assert.equal((await t.api('POST', `/api/workspaces/${ws.id}/start`)).status, 200);
      assert.equal((await sh(ws.id, 'cat "$BERTH_DATA_PATH/note.txt"')).stdout, 'kept-a\n', 'after stop/start');

      // A daemon restart: the workload outlives the daemon; the new one finds record and data.
      const { dataDir, config } = t;
      await t.daemon.close();
      t = await startTestDaemon({ runtime, dataDir, reconcileInterval: 3600, portRangeStart: config.portRangeStart, portRangeEnd: config.portRangeEnd });
      assert.equal((await sh(ws.id, 'cat "$BERTH_DATA_PATH/note.txt"')).stdout, 'kept-a\n', 'after a daemon restart');

      const before = t.daemon.workspaces.get(ws.id);
      const lines = await recreate(ws.id, variant ? { image: variant } : {});
      assert.deepEqual(lines.filter((l) => l.step).map((l) => l.step), ['stopping', 'removing', 'creating', 'starting']);
      const done = lines.at(-1);
      assert.equal(done.state, 'running', JSON.stringify(done));
      assert.equal(done.id, ws.id);
      assert.equal(done.dataVolume, ws.dataVolume);
      assert.deepEqual(done.ports.map((p: { hostPort: number }) => p.hostPort), ws.ports.map((p) => p.hostPort), 'same ports');
      if (variant) {
        assert.equal(done.image, variant);
        assert.equal((await sh(ws.id, `cat ${VARIANT_FILE}`)).stdout, 'v2\n', 'the new workload runs the new image');
        assert.notEqual(t.daemon.workspaces.get(ws.id).runtimeRef, before.runtimeRef, 'a new container');
      }
      assert.equal((await sh(ws.id, 'cat "$BERTH_DATA_PATH/note.txt"')).stdout, 'kept-a\n', 'after recreate');
    });

    it('a recreate that fails keeps the volume and says how to retry; the retry brings the data back', { skip: !engine && 'the process runtime ignores images' }, async () => {
      const ws = t.daemon.workspaces.get('data-a');
      const lines = await recreate(ws.id, { image: 'localhost/berth-missing-image:none' });
      const last = lines.at(-1);
      assert.equal(last.error?.code, 'E_RUNTIME', JSON.stringify(last));
      assert.match(last.error.message, /recreate failed while creating the workload from localhost\/berth-missing-image:none/);
      assert.match(last.error.message, /is kept; retry with `berth ws recreate data-a --image localhost\/berth-missing-image:none`/);
      const failed = t.daemon.workspaces.get(ws.id);
      assert.equal(failed.state, 'failed');
      assert.equal(failed.image, variant, 'the record keeps the image that last ran');
      assert.equal(failed.runtimeRef, null, 'no workload left behind');
      assert.equal(await volumeExists(ws.dataVolume!), true, 'the volume is never removed by a failed recreate');
      const start = await t.api('POST', `/api/workspaces/${ws.id}/start`);
      assert.equal(start.status, 409);
      assert.match(start.body.error.hint, /berth ws recreate data-a/);

      const plain = await t.api('POST', `/api/workspaces/${ws.id}/recreate`, { image });
      assert.equal(plain.status, 200, JSON.stringify(plain.body));
      assert.equal(plain.body.state, 'running');
      assert.equal(plain.body.image, image);
      assert.equal((await sh(ws.id, 'cat "$BERTH_DATA_PATH/note.txt"')).stdout, 'kept-a\n', 'the data is back');
      assert.notEqual((await sh(ws.id, `cat ${VARIANT_FILE}`)).exitCode, 0, 'and the image is the first one again');
    });

    it('volume ls shows the volume with its size and workspace; volume rm refuses a volume in use', async () => {
      const ws = t.daemon.workspaces.get('data-a');
      const { body } = await t.api('GET', '/api/volumes');
      const v = body.volumes.find((x: { name: string }) => x.name === ws.dataVolume);
      assert.ok(v, JSON.stringify(body));
      assert.equal(v.kind, 'workspace');
      assert.equal(v.usedBy, 'data-a');
      assert.ok(v.sizeBytes > 0, `size ${v.sizeBytes}`);
      const rm = await t.api('DELETE', `/api/volumes/${ws.dataVolume}`);
      assert.equal(rm.status, 409);
      assert.match(rm.body.error.hint, /berth ws rm data-a/);
      assert.equal(await volumeExists(ws.dataVolume!), true);
    });

    it('ws rm removes the data volume (the runtime confirms)', async () => {
      const ws = t.daemon.workspaces.get('data-a');
      assert.equal((await t.api('DELETE', `/api/workspaces/${ws.id}`)).status, 204);
      assert.equal(await volumeExists(ws.dataVolume!), false);
    });

    it('ws rm --keep-data keeps it: listed as kept, mounted again by a new workspace at another path, then volume rm', async () => {
      const first = await create({ name: 'data-b', dataPath: '/home/dev/project' });
      assert.equal(first.dataPath, '/home/dev/project');
      if (engine) assert.equal((await sh(first.id, 'echo kept-b > /home/dev/project/b.txt')).exitCode, 0);
      else assert.equal((await sh(first.id, 'echo kept-b > "$BERTH_DATA_PATH/b.txt"')).exitCode, 0);
      assert.equal((await t.api('DELETE', `/api/workspaces/${first.id}?keepData=1`)).status, 204);
      assert.equal(await volumeExists(first.dataVolume!), true, 'kept');
      const kept = (await t.api('GET', '/api/volumes')).body.volumes.find((x: { name: string }) => x.name === first.dataVolume);
      assert.deepEqual({ usedBy: kept.usedBy, madeBy: kept.madeBy, kind: kept.kind }, { usedBy: null, madeBy: 'data-b', kind: 'workspace' });

      const second = await create({ name: 'data-c', dataVolume: first.dataVolume });
      assert.equal(second.dataVolume, first.dataVolume);
      assert.equal((await sh(second.id, 'cat "$BERTH_DATA_PATH/b.txt"')).stdout, 'kept-b\n', 'the kept data, now at /workspace');
      const twice = await t.api('POST', '/api/workspaces', { name: 'data-d', dataVolume: first.dataVolume, command: ['sh', '-c', IDLE_SH], ...(image ? { image } : {}) });
      assert.equal(twice.status, 409, 'one volume, one workspace');
      assert.equal(twice.body.error.code, 'E_INVALID_STATE');

      assert.equal((await t.api('DELETE', `/api/workspaces/${second.id}?keepData=true`)).status, 204);
      const rm = await t.api('DELETE', `/api/volumes/${first.dataVolume}`);
      assert.equal(rm.status, 200, JSON.stringify(rm.body));
      assert.equal(await volumeExists(first.dataVolume!), false, 'volume rm removed it');
      assert.equal((await t.api('DELETE', `/api/volumes/${first.dataVolume}`)).status, 404);
    });

    it('a workspace without a data volume (dataPath null) is refused a recreate with E_NO_DATA_VOLUME', async () => {
      const ws = await create({ name: 'data-none', dataPath: null });
      assert.equal(ws.dataVolume, null);
      const res = await t.api('POST', `/api/workspaces/${ws.id}/recreate`, {});
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'E_NO_DATA_VOLUME');
      const option = await t.api('POST', `/api/workspaces/${ws.id}/recreate`, { image: '--privileged' });
      assert.equal(option.status, 400, 'an image that reads as an option never reaches the engine');
      assert.equal(option.body.error.code, 'E_BAD_REQUEST');
      assert.equal(t.daemon.workspaces.get(ws.id).state, 'running', 'untouched');
      assert.equal((await t.api('DELETE', `/api/workspaces/${ws.id}`)).status, 204);
    });

    it('attack: data paths an engine or the host would misread are refused with E_BAD_DATA_PATH, nothing made', async () => {
      const volumesBefore = (await t.api('GET', '/api/volumes')).body.volumes.length;
      for (const dataPath of ['/', '/proc', '/proc/self', '/sys', '/dev/shm', '..', '-v', '--privileged', 'x:y', '/data:/host', '/data:ro', '/a/../etc', '/etc', '/usr', '/usr/local/bin/berth-url', 'relative', '', '/a b', '/data\n']) {
        const res = await t.api('POST', '/api/workspaces', { name: 'data-bad', dataPath, command: ['sh', '-c', IDLE_SH], ...(image ? { image } : {}) });
        assert.equal(res.status, 400, `${JSON.stringify(dataPath)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'E_BAD_DATA_PATH', JSON.stringify(dataPath));
        assert.ok(res.body.error.hint, 'says what to give instead');
      }
      for (const dataVolume of ['-v', '../escape', '/var/lib', 'x:y', 'berth-nope-ws-x-data']) {
        const res = await t.api('POST', '/api/workspaces', { name: 'data-bad', dataVolume, command: ['sh', '-c', IDLE_SH], ...(image ? { image } : {}) });
        assert.ok([400, 404].includes(res.status), `${dataVolume}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.error.code, /^E_(BAD_REQUEST|NOT_FOUND)$/);
      }
      assert.equal(t.daemon.workspaces.list().some((w) => w.name === 'data-bad'), false, 'no record');
      assert.equal((await t.api('GET', '/api/volumes')).body.volumes.length, volumesBefore, 'no volume');
    });
  });
}
