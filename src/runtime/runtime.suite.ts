/**
 * The one conformance suite every runtime driver passes (process, podman, docker, …). Each driver's
 * test file calls `runtimeConformanceSuite` with a factory and fixtures (image and commands that
 * make sense for that driver); the assertions are the same for all. Differences between drivers
 * are read from `capabilities`, never from the driver's name.
 *
 * Tests run in order and share one web workload through its lifecycle (create → serve → stop →
 * start → remove), as the services use it. Names, labels and ports are unique per run, and an
 * `after` hook removes whatever the run created, so a failed run leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { scopeToInstallation } from './installation.js';
import { networkConformance } from './runtime-networks.suite.js';
import { asResult, eventually, freePort, readAll, rejectsWith, withTimeout } from './runtime-suite-helpers.js';
import { LABEL_ID, LABEL_INSTALLATION, LABEL_KIND, type ExecResult, type ExecSession, type Runtime, type WorkloadSpec } from './runtime.js';

/** Per-driver inputs of the suite. Every command is an argv (no shell string is built by the suite). */
export interface ConformanceFixtures {
  /** `spec.image` for every workload (ignored by drivers without `capabilities.images`). */
  image: string;
  /** An HTTP server on `$PORT` that prints `readyMarker` once it starts and answers `GET /` with `body`. */
  httpServer: string[];
  readyMarker: string;
  body: string;
  /** Prints a line `tick <n>` every ~200 ms until stopped. */
  ticker: string[];
  /** Prints `first` (stdout), `oops` (stderr), then ~300 ms later `last` (stdout), and exits with code 3. */
  exit3: string[];
  /** An image that does not exist and cannot be pulled (drivers with `capabilities.images`). */
  missingImage?: string;
  /** Deletes an image the build test made (drivers with `capabilities.build`). */
  removeImage?: (tag: string) => Promise<void>;
  /**
   * argv run (with `exec`) inside a workload that prints what `GET /` on `host:port` answers and
   * exits non-zero when nothing does (drivers with `capabilities.networks`). Default: busybox `nc`
   * with a 3 s timeout (busybox's `wget` crashes in the static test image); host and port travel
   * as positional arguments, never inside the script.
   */
  httpGet?: (host: string, port: number) => string[];
}

/** What a driver's test file hands the suite: a ready runtime, or why this driver cannot run here. */
export type MakeRuntime = () => Promise<Runtime | { skip: string }>;

/** Registers the conformance tests for one driver under `describe(name)`. */
export function runtimeConformanceSuite(name: string, makeRuntime: MakeRuntime, fixtures: ConformanceFixtures): void {
  describe(`runtime conformance: ${name}`, async () => {
    const made = await makeRuntime();
    if ('skip' in made) {
      // One visible skipped test carrying the reason, instead of a silent empty suite.
      it(`${name}: whole suite`, { skip: `SKIPPED ${name}: ${made.skip}` }, () => {});
      return;
    }
    const rt = made;
    const runId = randomBytes(3).toString('hex');
    const kind = `conformance-${runId}`;
    const created = new Set<string>();
    const hostPort = await freePort();
    // Without port mapping the workload listens on the host port itself.
    const containerPort = rt.capabilities.portMapping ? 8000 : hostPort;
    const suiteVar = 'value with spaces=and equals';
    let web = '';

    const spec = (suffix: string, command: string[], extra: Partial<WorkloadSpec> = {}): WorkloadSpec => ({
      name: `berth-conf-${runId}-${suffix}`,
      image: fixtures.image,
      command,
      env: { BERTH_SUITE_VAR: suiteVar },
      ports: [],
      labels: { [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-${suffix}`, 'berth.test': 'conformance' },
      ...extra,
    });
    const createStarted = async (s: WorkloadSpec): Promise<string> => {
      const ref = await rt.create(s);
      created.add(ref);
      await rt.start(ref);
      return ref;
    };
    const get = async (): Promise<string> => {
      const res = await fetch(`http://127.0.0.1:${hostPort}/`);
      return res.text();
    };

    const volumes = new Set<string>();
    const networks = new Set<string>();
    after(async () => {
      for (const ref of created) await rt.remove(ref).catch(() => undefined);
      for (const v of volumes) await rt.removeVolume?.(v).catch(() => undefined);
      // After the workloads: a network refuses to go while one is attached.
      for (const n of networks) await rt.removeNetwork?.(n).catch(() => undefined);
    });

    it('probe answers', async () => {
      await rt.probe();
    });

    it('create + start → inspect says running', async () => {
      const s = spec('web', fixtures.httpServer, {
        env: { BERTH_SUITE_VAR: suiteVar, PORT: String(containerPort) },
        ports: [{ containerPort, hostPort }],
      });
      web = await rt.create(s);
      created.add(web);
      assert.equal((await rt.inspect(web)).state, 'created');
      await rt.start(web);
      const st = await rt.inspect(web);
      assert.equal(st.state, 'running');
      assert.equal(st.exitCode, null);
      assert.ok(st.upstreamHost, 'upstreamHost is reported');
      assert.ok(st.startedAt, 'startedAt is reported');
    });

    it('serves HTTP on 127.0.0.1:hostPort', async () => {
      assert.equal(await eventually(get), fixtures.body);
    });

    it('passes the spec env to the workload', async () => {
      const res = asResult(await rt.exec(web, ['env']));
      assert.equal(res.exitCode, 0);
      assert.match(res.stdout, new RegExp(`^BERTH_SUITE_VAR=${suiteVar}$`, 'm'));
    });

    it('stats: a running workload uses memory and reports CPU; an unknown ref is absent', { skip: rt.stats ? false : 'the driver has no stats' }, async () => {
      const unknown = rt.capabilities.images ? 'f'.repeat(64) : `berth-conf-${runId}-none`;
      // With an unknown ref among them the engines fail the whole call: the driver asks one by one.
      const stats = await rt.stats!([web, unknown], { disk: true });
      const s = stats.get(web);
      assert.ok(s, 'the workload is measured');
      assert.ok(s.memoryBytes > 0, JSON.stringify(s));
      assert.ok(s.cpuSeconds !== null || s.cpuPercent !== null, 'a CPU counter or a percent');
      assert.ok(s.pids >= 1);
      assert.equal(typeof s.diskBytes, 'number');
      assert.equal(stats.has(unknown), false);
      // Alone, a gone workload is simply absent: no error (the engine's "no such container").
      assert.equal((await rt.stats!([unknown])).size, 0);
      assert.equal((await rt.stats!([])).size, 0);
    });

    it('list(labels) finds it with its labels and state', async () => {
      const mine = await rt.list({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-web` });
      assert.equal(mine.length, 1);
      assert.equal(mine[0]?.ref, web);
      assert.equal(mine[0]?.name, `berth-conf-${runId}-web`);
      assert.equal(mine[0]?.labels['berth.test'], 'conformance');
      assert.equal(mine[0]?.state, 'running');
      assert.deepEqual(await rt.list({ [LABEL_KIND]: `${kind}-nobody` }), []);
    });

    it('installation scope: what one installation creates carries its label; list shows its own, adopted, never another\'s', async () => {
      const mineId = `${runId}aaaaaa`;
      const theirsId = `${runId}bbbbbb`;
      let claimed = '';
      const mine = scopeToInstallation(rt, { id: mineId, adoptWorkload: (w) => w.ref === claimed });
      const theirs = scopeToInstallation(rt, { id: theirsId });
      const ours = await mine.create(spec('inst-mine', fixtures.ticker));
      created.add(ours);
      const other = await theirs.create(spec('inst-theirs', fixtures.ticker));
      created.add(other);
      // Made before installations were labelled: Berth's labels, no installation.
      const legacy = await rt.create(spec('inst-legacy', fixtures.ticker));
      created.add(legacy);
      const refs = async (r: Runtime, labels: Record<string, string> = {}): Promise<string[]> =>
        (await r.list({ [LABEL_KIND]: kind, ...labels })).map((w) => w.ref).filter((ref) => [ours, other, legacy].includes(ref)).sort();

      // The driver stores the label and filters on it.
      const raw = await rt.list({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-inst-mine` });
      assert.equal(raw[0]?.labels[LABEL_INSTALLATION], mineId, 'the installation label is on the workload');
      assert.deepEqual(await refs(rt, { [LABEL_INSTALLATION]: mineId }), [ours], 'list(labels) honours the installation label');
      assert.deepEqual(await refs(rt), [ours, other, legacy].sort(), 'the bare driver sees all three');

      assert.deepEqual(await refs(mine), [ours], 'an unclaimed unlabelled workload is not listed (so never swept)');
      assert.deepEqual(await refs(theirs), [other]);
      assert.deepEqual(await refs(mine, { [LABEL_INSTALLATION]: theirsId }), [], "asking for another installation's gives nothing");
      claimed = legacy;
      assert.deepEqual(await refs(mine), [ours, legacy].sort(), 'a claimed unlabelled workload is adopted');
      assert.deepEqual(await refs(theirs), [other], "another installation's claim does not reach it");
    });

    it('logs contain what the workload printed', async () => {
      await eventually(async () => {
        const text = await readAll(await rt.logs(web));
        assert.ok(text.includes(fixtures.readyMarker), `logs so far: ${JSON.stringify(text)}`);
      });
    });

    it('follow streams new lines and ends when the workload stops', async () => {
      const ticker = await createStarted(spec('ticker', fixtures.ticker));
      const stream = await rt.logs(ticker, { follow: true });
      let text = '';
      stream.setEncoding('utf8').on('data', (d: string) => (text += d));
      const ended = new Promise<void>((resolve) => stream.once('close', resolve));
      await eventually(() => assert.ok((text.match(/tick \d+/g) ?? []).length >= 3, `followed: ${JSON.stringify(text)}`));
      await rt.stop(ticker, { timeoutSeconds: 1 });
      await withTimeout(ended, 15_000, 'follow stream did not end after the workload stopped');
      await rt.remove(ticker);
      created.delete(ticker);
    });

    it('destroying a follow stream releases it', async () => {
      const stream = await rt.logs(web, { follow: true });
      stream.resume();
      const closed = new Promise<void>((resolve) => stream.once('close', resolve));
      stream.destroy();
      await withTimeout(closed, 5_000, 'destroyed follow stream did not close');
    });

    it('exec returns stdout, stderr and the exit code', async () => {
      const res = asResult(await rt.exec(web, ['sh', '-c', 'echo "out-$BERTH_SUITE_VAR-$EXTRA"; echo err >&2; exit 4'], { env: { EXTRA: 'x' } }));
      assert.equal(res.exitCode, 4);
      assert.equal(res.stdout, `out-${suiteVar}-x\n`);
      assert.match(res.stderr, /err/);
    });

    it('exec with tty gives an interactive session', async () => {
      const session = await rt.exec(web, ['sh'], { tty: true });
      assert.equal(session.kind, 'session');
      const s = session as ExecSession;
      let out = '';
      s.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      s.stderr.resume();
      s.stdin.write('echo tty-$((6*7))\nexit 6\n');
      assert.equal(await withTimeout(s.wait(), 10_000, 'tty session did not end'), 6);
      assert.match(out, /tty-42/);
    });

    it('stop → exited with an exit code', async () => {
      await rt.stop(web, { timeoutSeconds: 2 });
      const st = await rt.inspect(web);
      assert.equal(st.state, 'exited');
      assert.equal(typeof st.exitCode, 'number');
      assert.ok(st.finishedAt, 'finishedAt is reported');
      await assert.rejects(get(), 'nothing answers once stopped');
      await rt.stop(web); // stopping a stopped workload is a no-op
    });

    it('stats of a stopped workload: no memory, no processes', { skip: rt.stats ? false : 'the driver has no stats' }, async () => {
      const s = (await rt.stats!([web])).get(web);
      assert.equal(s?.memoryBytes, 0);
      assert.equal(s?.pids, 0);
    });

    it('exec in a stopped workload → E_INVALID_STATE', async () => {
      await rejectsWith(rt.exec(web, ['true']), 'E_INVALID_STATE');
    });

    it('start again → running and serving', async () => {
      await rt.start(web);
      assert.equal((await rt.inspect(web)).state, 'running');
      assert.equal(await eventually(get), fixtures.body);
    });

    it('a command that exits 3 → exited, exitCode 3; logs honour tail', async () => {
      const ref = await createStarted(spec('exit3', fixtures.exit3));
      const st = await eventually(async () => {
        const s = await rt.inspect(ref);
        assert.equal(s.state, 'exited');
        return s;
      });
      assert.equal(st.exitCode, 3);
      const all = await readAll(await rt.logs(ref));
      // stdout lines in order, the stderr line among them. Across the two streams only a gap in time
      // orders lines: docker stamps each stream's lines as it reads its pipe, and a run saw the
      // stderr line stamped 60 µs before the stdout line printed first (so merging by stamp cannot help).
      assert.match(all, /first\n(.*\n)*last\n/);
      assert.match(all, /^oops$/m, 'stderr is in the logs too');
      assert.equal((await readAll(await rt.logs(ref, { tail: 1 }))).trim(), 'last');
    });

    it('create refuses a name already in use', async () => {
      await rejectsWith(rt.create(spec('web', fixtures.httpServer)), 'E_NAME_TAKEN');
    });

    it('remove → missing and no longer listed', async () => {
      await rt.remove(web);
      created.delete(web);
      assert.equal((await rt.inspect(web)).state, 'missing');
      assert.deepEqual(await rt.list({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-web` }), []);
      await assert.rejects(get(), 'nothing answers once removed');
    });

    it('remove and stop of an unknown ref are no-ops; inspect says missing', async () => {
      const unknown = `berth-conf-${runId}-never`;
      await rt.remove(unknown);
      await rt.stop(unknown);
      assert.equal((await rt.inspect(unknown)).state, 'missing');
    });

    it('start, logs and exec of an unknown ref → E_NOT_FOUND', async () => {
      const unknown = `berth-conf-${runId}-never`;
      await rejectsWith(rt.start(unknown), 'E_NOT_FOUND');
      await rejectsWith(rt.logs(unknown), 'E_NOT_FOUND');
      await rejectsWith(rt.exec(unknown, ['true']), 'E_NOT_FOUND');
    });

    const noVolumes = !rt.removeVolume && 'driver does not implement removeVolume (no named volumes)';
    it('a named volume keeps its data across remove + create, until removeVolume', { skip: noVolumes }, async () => {
      const volume = `berth-conf-${runId}-data`;
      const target = '/berth-conf-data';
      volumes.add(volume);
      // The workload finds the volume through its env: the mount path, or (process) the host directory.
      const withVolume = (suffix: string): WorkloadSpec => spec(suffix, fixtures.ticker, { env: { VOL: target }, volumes: [{ name: volume, target }] });
      const sh = async (ref: string, script: string): Promise<ExecResult> => asResult(await rt.exec(ref, ['sh', '-c', script]));

      const first = await createStarted(withVolume('vol1'));
      assert.equal((await sh(first, `echo kept-${runId} > "$VOL/kept.txt"`)).exitCode, 0);
      if (rt.capabilities.volumes) {
        assert.equal((await sh(first, `cat ${target}/kept.txt`)).stdout, `kept-${runId}\n`, 'mounted at its target');
      } else {
        assert.notEqual((await sh(first, 'echo "$VOL"')).stdout.trim(), target, 'the target path is substituted by a host directory');
      }
      await rt.remove(first);
      created.delete(first);

      const second = await createStarted(withVolume('vol2'));
      assert.equal((await sh(second, 'cat "$VOL/kept.txt"')).stdout, `kept-${runId}\n`, 'data survived remove + create');
      if (rt.listVolumes) {
        // Listed with the labels of the workload that made it (vol1, not vol2) and a size that counts the file.
        const listed = (await rt.listVolumes({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-vol1` })).find((v) => v.name === volume);
        assert.ok(listed, 'listVolumes finds the volume by its labels');
        assert.equal(listed.labels['berth.test'], 'conformance', 'every label of the workload, not only kind and id');
        assert.ok(listed.sizeBytes !== null && listed.sizeBytes > 0, `size on disk: ${listed.sizeBytes}`);
        assert.deepEqual(await rt.listVolumes({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-vol2` }), [], 'an existing volume keeps its first labels');
      }
      await rejectsWith(rt.removeVolume!(volume), 'E_INVALID_STATE');
      await rt.remove(second);
      created.delete(second);

      await rt.removeVolume!(volume);
      await rt.removeVolume!(volume); // idempotent
      if (rt.listVolumes) assert.deepEqual(await rt.listVolumes({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-vol1` }), [], 'gone from the list');
      const third = await createStarted(withVolume('vol3'));
      const gone = await sh(third, 'cat "$VOL/kept.txt"');
      assert.notEqual(gone.exitCode, 0, `removeVolume left the data: ${gone.stdout}`);
      await rt.remove(third);
      created.delete(third);
      await rt.removeVolume!(volume);
    });

    it('create refuses invalid volumes', { skip: noVolumes }, async () => {
      await rejectsWith(rt.create(spec('badvol1', ['true'], { volumes: [{ name: '../escape', target: '/data' }] })), 'E_BAD_REQUEST');
      await rejectsWith(rt.create(spec('badvol2', ['true'], { volumes: [{ name: `berth-conf-${runId}-x`, target: 'relative' }] })), 'E_BAD_REQUEST');
      await rejectsWith(rt.create(spec('badvol3', ['true'], { volumes: [{ name: `berth-conf-${runId}-x`, target: '/a/../etc' }] })), 'E_BAD_REQUEST');
    });

    const noImages = !rt.capabilities.images && 'driver ignores images (capabilities.images = false)';
    it('create with a missing image → E_RUNTIME with the engine message, nothing left', { skip: noImages }, async () => {
      const s = { ...spec('badimage', ['true']), image: fixtures.missingImage ?? 'berth.invalid/no-such-image:latest' };
      const err = await rejectsWith(rt.create(s), 'E_RUNTIME');
      assert.match(err.message, / create failed: \S/, 'carries the engine message');
      assert.equal((await rt.inspect(s.name)).state, 'missing');
      assert.deepEqual(await rt.list({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-badimage` }), []);
    });

    const noBuild = !rt.capabilities.build && 'driver cannot build (capabilities.build = false)';
    it('build makes an image workloads can run', { skip: noBuild }, async () => {
      assert.ok(rt.build, 'capabilities.build promises build()');
      const dir = await mkdtemp(path.join(tmpdir(), 'berth-conf-build-'));
      const tag = `localhost/berth-conf-build:${runId}`;
      try {
        await writeFile(path.join(dir, 'Containerfile'), `FROM ${fixtures.image}\nRUN echo built-${runId} > /built.txt\n`);
        await rt.build(dir, 'Containerfile', tag);
        const ref = await createStarted({ ...spec('built', ['sleep', '600']), image: tag });
        const res = asResult(await rt.exec(ref, ['cat', '/built.txt']));
        assert.equal(res.stdout, `built-${runId}\n`);
        await rt.remove(ref);
        created.delete(ref);
        await rejectsWith(rt.build(dir, 'Missing.Containerfile', tag), 'E_RUNTIME');
      } finally {
        await rm(dir, { recursive: true, force: true });
        await fixtures.removeImage?.(tag);
      }
    });

    // ---- networks (runtime-networks.suite.ts) ----
    networkConformance({ rt, fixtures, runId, kind, spec, createStarted, created, networks });
  });
}
