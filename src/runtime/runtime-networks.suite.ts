/**
 * The network part of the runtime conformance suite (runtime.suite.ts calls it inside its
 * `describe`, sharing its workloads and clean-up): two workloads on one network talk by alias, a
 * third on another network reaches neither alias nor address, connect/disconnect join and leave,
 * networks carry the installation label, removal refuses while in use. Skipped, with the reason,
 * on drivers without `capabilities.networks`.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { scopeToInstallation } from './installation.js';
import { LABEL_ID, LABEL_INSTALLATION, LABEL_KIND, type Runtime, type WorkloadRef, type WorkloadSpec } from './runtime.js';
import type { ConformanceFixtures } from './runtime.suite.js';
import { asResult, eventually, rejectsWith } from './runtime-suite-helpers.js';

/** The default `httpGet`: a plain HTTP/1.0 request through `nc`. */
const ncHttpGet = (host: string, port: number): string[] => [
  'sh',
  '-c',
  'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 "$0" "$1"',
  host,
  String(port),
];

/** What the main suite shares with its network part. */
export interface NetworkSuiteContext {
  rt: Runtime;
  fixtures: ConformanceFixtures;
  runId: string;
  kind: string;
  spec(suffix: string, command: string[], extra?: Partial<WorkloadSpec>): WorkloadSpec;
  createStarted(s: WorkloadSpec): Promise<WorkloadRef>;
  /** Workloads and networks the suite's `after` removes. */
  created: Set<string>;
  networks: Set<string>;
}

/** Registers the network tests (inside the caller's `describe`). */
export function networkConformance({ rt, fixtures, runId, kind, spec, createStarted, created, networks }: NetworkSuiteContext): void {
  // ---- networks: two on the same network talk by alias, a third on another network cannot ----
  const noNetworks = !rt.capabilities.networks && 'driver has no networks (capabilities.networks = false): workloads share loopback';
  const netA = `berth-conf-${runId}-neta`;
  const netB = `berth-conf-${runId}-netb`;
  const netLabels = { [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-net`, 'berth.test': 'conformance' };
  const httpGet = fixtures.httpGet ?? ncHttpGet;
  // Reached over the network on its own port; nothing is published.
  const netPort = 8080;
  let netServer = '';
  let netClient = '';
  /** What `GET /` on host answers from inside `from`, or the failure's words. */
  const fetchFrom = async (from: string, host: string): Promise<string> => {
    const res = asResult(await rt.exec(from, httpGet(host, netPort)));
    return res.exitCode === 0 ? res.stdout : `exit ${res.exitCode}: ${res.stderr.trim()}`;
  };

  it('createNetwork makes a labelled network once; listNetworks finds it by labels', { skip: noNetworks }, async () => {
    assert.ok(rt.createNetwork && rt.removeNetwork && rt.listNetworks, 'capabilities.networks promises the network methods');
    networks.add(netA);
    assert.equal(await rt.createNetwork(netA, netLabels), true, 'made by this call');
    assert.equal(await rt.createNetwork(netA, netLabels), false, 'exists: kept, not an error');
    const mine = await rt.listNetworks({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-net` });
    assert.deepEqual(mine.map((n) => n.name), [netA]);
    assert.equal(mine[0]?.labels['berth.test'], 'conformance');
    assert.deepEqual(await rt.listNetworks({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-nobody` }), []);
    await rejectsWith(rt.createNetwork('../escape', netLabels), 'E_BAD_REQUEST');
  });

  it('two workloads on one network reach each other by alias', { skip: noNetworks }, async () => {
    netServer = await createStarted(
      spec('netsrv', fixtures.httpServer, { env: { PORT: String(netPort) }, network: { name: netA, aliases: [`conf-srv-${runId}`] } }),
    );
    netClient = await createStarted(spec('netcli', fixtures.ticker, { network: { name: netA, aliases: [] } }));
    const body = await eventually(async () => {
      const got = await fetchFrom(netClient, `conf-srv-${runId}`);
      assert.ok(got.includes(fixtures.body), `GET http://conf-srv-${runId}:${netPort}/ from a workload of the network: ${got}`);
      return got;
    });
    assert.ok(body.includes(fixtures.body));
  });

  it('a workload on another network reaches it neither by alias nor by address', { skip: noNetworks }, async () => {
    networks.add(netB);
    await rt.createNetwork!(netB, netLabels);
    const outsider = await createStarted(spec('netout', fixtures.ticker, { network: { name: netB, aliases: [] } }));
    try {
      const address = (await rt.inspect(netServer)).networkAddress;
      assert.ok(address, 'the server reports its address on its network');
      assert.ok((await fetchFrom(netClient, address)).includes(fixtures.body), 'the address answers inside the network');
      const byAlias = await fetchFrom(outsider, `conf-srv-${runId}`);
      assert.ok(!byAlias.includes(fixtures.body), `reached by alias from another network: ${byAlias}`);
      const byAddress = await fetchFrom(outsider, address);
      assert.ok(!byAddress.includes(fixtures.body), `reached by address ${address} from another network: ${byAddress}`);
    } finally {
      // Gone either way, so the next test's removeNetwork(netB) is about that method alone.
      await rt.remove(outsider);
      created.delete(outsider);
    }
  });

  it('connectNetwork joins a workload to a second network (by alias), disconnectNetwork undoes it; both idempotent', { skip: noNetworks }, async () => {
    assert.ok(rt.connectNetwork && rt.disconnectNetwork, 'capabilities.networks promises connect/disconnect');
    const outsider = await createStarted(spec('netjoin', fixtures.ticker, { network: { name: netB, aliases: [] } }));
    try {
      assert.ok(!(await fetchFrom(outsider, `conf-srv-${runId}`)).includes(fixtures.body), 'reached before joining');
      await rt.connectNetwork(netA, outsider, [`conf-join-${runId}`]);
      await rt.connectNetwork(netA, outsider, [`conf-join-${runId}`]); // attached: a no-op
      await eventually(async () => {
        const got = await fetchFrom(outsider, `conf-srv-${runId}`);
        assert.ok(got.includes(fixtures.body), `not reached after joining: ${got}`);
      });
      await rt.disconnectNetwork(netA, outsider);
      await rt.disconnectNetwork(netA, outsider); // detached: a no-op
      const after = await fetchFrom(outsider, `conf-srv-${runId}`);
      assert.ok(!after.includes(fixtures.body), `still reached after leaving: ${after}`);
      await rejectsWith(rt.connectNetwork(`berth-conf-${runId}-nonet`, outsider, []), 'E_NOT_FOUND');
      await rejectsWith(rt.connectNetwork(netA, outsider, ['-x']), 'E_BAD_REQUEST');
    } finally {
      await rt.remove(outsider);
      created.delete(outsider);
    }
  });

  it('installation scope: networks carry the installation label; another installation does not list them', { skip: noNetworks }, async () => {
    const scoped = scopeToInstallation(rt, { id: `${runId}cccccc` });
    const name = `berth-conf-${runId}-netscoped`;
    networks.add(name);
    await scoped.createNetwork!(name, netLabels);
    const raw = await rt.listNetworks!({ [LABEL_INSTALLATION]: `${runId}cccccc` });
    assert.deepEqual(raw.map((n) => n.name), [name], 'the driver filters networks on the installation label');
    assert.deepEqual((await scoped.listNetworks!(netLabels)).map((n) => n.name), [name]);
    const other = scopeToInstallation(rt, { id: `${runId}dddddd` });
    assert.deepEqual((await other.listNetworks!(netLabels)).map((n) => n.name), [], "another installation's network is not listed");
    await rt.removeNetwork!(name);
  });

  it('removeNetwork refuses while a workload is attached, then removes; idempotent', { skip: noNetworks }, async () => {
    await rejectsWith(rt.removeNetwork!(netA), 'E_INVALID_STATE');
    for (const ref of [netServer, netClient]) {
      await rt.remove(ref);
      created.delete(ref);
    }
    await rt.removeNetwork!(netA);
    await rt.removeNetwork!(netA); // gone: a no-op
    await rt.removeNetwork!(netB);
    assert.deepEqual(await rt.listNetworks!({ [LABEL_KIND]: kind, [LABEL_ID]: `${runId}-net` }), []);
    await rejectsWith(rt.create(spec('badnet', ['true'], { network: { name: 'bad name', aliases: [] } })), 'E_BAD_REQUEST');
    await rejectsWith(rt.create(spec('badalias', ['true'], { network: { name: netA, aliases: ['-x'] } })), 'E_BAD_REQUEST');
  });
}
