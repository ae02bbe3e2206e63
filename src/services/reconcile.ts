/**
 * The reconciler: compares the store with what the runtime reports (by labels) and converges them,
 * on every daemon start and then periodically. One pass handles workspaces (here), then apps
 * (reconcile-apps.ts), then makes sure Berth's own shared services are up (infra/managed.ts).
 */
import type { Logger } from '../log.js';
import { crashRestartDelayMs, restartDelayMs, shouldRestart } from '../domain/workspace.js';
import { sweepNetworks } from '../runtime/networks.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { AppsRepo } from '../store/apps-repo.js';
import type { WorkspacesRepo } from '../store/workspaces-repo.js';
import { dropDataVolume, isOwnDataVolume } from './workspace-data.js';
import { appReportChanged, createAppReconciler, emptyAppReport, type AppReconcileReport } from './reconcile-apps.js';

/** What one reconcile pass did; logged and returned for tests and metrics. */
export interface ReconcileReport {
  /** Records left `creating` by a crash mid-create: workload removed, record and ports released. */
  abandonedCreates: string[];
  /** Deletes interrupted by a crash, finished: workload (if any), record and ports removed. */
  finishedDeletes: string[];
  /** Records whose workload exited or vanished: now `failed` with the reason. */
  crashed: string[];
  /** Workloads restarted by their restart policy this pass. */
  restarted: string[];
  /** Labelled workloads with no record, removed after the grace period. */
  orphansRemoved: string[];
  /** Orphans seen for the first time (removed on a later pass if still unclaimed). */
  orphansPending: string[];
  /** This installation's workspace and app networks no record claims, removed (runtime/networks.ts). */
  networksRemoved: string[];
  /** The same for catalog apps (by app name; orphans by workload ref). */
  apps: AppReconcileReport;
  /** Berth's own shared services started again because they should be up and were not. */
  infraStarted: string[];
}

export interface ReconcilerDeps {
  repo: WorkspacesRepo;
  runtime: Runtime;
  log: Logger;
  /** How long an unrecorded workload may live before removal (a create may be mid-flight). */
  orphanGraceMs: number;
  /** Ids with an operation in flight in this process; skipped this pass. */
  busy: () => ReadonlySet<string>;
  onChange: () => void;
  /** Every pass's report (metrics). */
  onReport?: (report: ReconcileReport) => void;
  /** Catalog apps: their rows and the names with an install/uninstall in flight. */
  apps?: { repo: AppsRepo; busy: () => ReadonlySet<string> } | undefined;
  /** Berth's own shared services (`berth infra up`): started again when they should run and do not. */
  infra?: { ensureUp(): Promise<string[]> } | undefined;
}

/**
 * Compares the store with what the runtime reports (by labels) and converges them. Runs on every
 * daemon start and then periodically. Safe to run at any time: it never touches a workload whose
 * id has an operation in flight.
 */
export function createReconciler(deps: ReconcilerDeps) {
  const firstSeenOrphan = new Map<string, number>();
  let last: Promise<unknown> = Promise.resolve();
  const reconcileApps = deps.apps
    ? createAppReconciler({ repo: deps.apps.repo, busy: deps.apps.busy, runtime: deps.runtime, log: deps.log, orphanGraceMs: deps.orphanGraceMs })
    : null;

  // Passes never overlap: a call made while one runs waits for it, then runs its own.
  return function reconcile(opts: { startup?: boolean } = {}): Promise<ReconcileReport> {
    const next = last.then(() => pass(opts), () => pass(opts));
    last = next.catch(() => undefined);
    return next;
  };

  async function pass(opts: { startup?: boolean }): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      abandonedCreates: [],
      finishedDeletes: [],
      crashed: [],
      restarted: [],
      orphansRemoved: [],
      orphansPending: [],
      networksRemoved: [],
      apps: emptyAppReport(),
      infraStarted: [],
    };
    const { repo, runtime, log } = deps;
    const busy = deps.busy();
    const workloads = await runtime.list({ [LABEL_KIND]: 'workspace' });
    const byId = new Map(workloads.map((w) => [w.labels[LABEL_ID] ?? '', w]));

    for (const ws of repo.list()) {
      if (busy.has(ws.id)) continue;
      const w = byId.get(ws.id);
      if (ws.deleting) {
        if (w) await runtime.remove(w.ref).catch((err: unknown) => log.warn({ err, id: ws.id }, 'reconcile: remove failed'));
        if (!w || !(await runtime.inspect(w.ref).then((st) => st.state !== 'missing', () => true))) {
          repo.delete(ws.id);
          report.finishedDeletes.push(ws.id);
        }
        continue;
      }
      if (ws.state === 'creating') {
        // Only a crash mid-create leaves this state behind across a start: nothing is waiting on it.
        if (!opts.startup) continue;
        if (w) await runtime.remove(w.ref).catch((err: unknown) => log.warn({ err, id: ws.id }, 'reconcile: remove failed'));
        // The volume this create made goes too; a kept one it was to mount again (another id's) stays.
        if (isOwnDataVolume(ws)) await dropDataVolume(runtime, ws, log);
        repo.delete(ws.id);
        report.abandonedCreates.push(ws.id);
        continue;
      }
      if (ws.state === 'failed' && w) {
        const due = repo.nextRestartAt(ws.id);
        if (due !== null && due <= Date.now()) {
          try {
            await runtime.start(w.ref);
            const status = await runtime.inspect(w.ref);
            repo.update(ws.id, { state: 'running', reason: null, upstreamHost: status.upstreamHost, nextRestartAt: null, restartCount: ws.restartCount + 1 });
            report.restarted.push(ws.id);
          } catch (err) {
            log.warn({ err, id: ws.id }, 'reconcile: restart failed');
            repo.update(ws.id, { nextRestartAt: Date.now() + restartDelayMs(ws.restartCount + 2) });
          }
        }
        continue;
      }
      if (ws.state !== 'running') continue;
      if (!w || w.state !== 'running') {
        // `workloads` was listed before the rows were read: a create that finished in between is
        // running but missing from that list. Ask the runtime again before recording a crash.
        const ref = w?.ref ?? ws.runtimeRef;
        const status = ref ? await runtime.inspect(ref).catch(() => null) : null;
        if (status?.state === 'running' || busy.has(ws.id)) continue;
        const exists = w !== undefined || (status !== null && status.state !== 'missing');
        const exitCode = status?.exitCode ?? null;
        let reason = !exists ? 'the workload disappeared from the runtime' : `the workload exited with code ${exitCode ?? '?'}`;
        let nextRestartAt: number | null = null;
        if (exists && shouldRestart(ws.restartPolicy, exitCode)) {
          const delay = crashRestartDelayMs(ws.restartCount, status?.startedAt ?? null, status?.finishedAt ?? null);
          nextRestartAt = Date.now() + delay;
          reason += `; restart ${ws.restartCount + 1} (policy ${ws.restartPolicy}) in ${Math.round(delay / 1000)} s`;
        }
        repo.update(ws.id, { state: 'failed', reason, exitCode, nextRestartAt });
        log.warn({ workspaceId: ws.id, name: ws.name, exitCode, reason }, 'workload crashed');
        report.crashed.push(ws.id);
      }
    }

    const known = new Set(repo.list().map((ws) => ws.id));
    const now = Date.now();
    for (const w of workloads) {
      const id = w.labels[LABEL_ID] ?? '';
      if (known.has(id) || busy.has(id)) {
        firstSeenOrphan.delete(w.ref);
        continue;
      }
      const seen = firstSeenOrphan.get(w.ref) ?? now;
      firstSeenOrphan.set(w.ref, seen);
      if (now - seen >= deps.orphanGraceMs) {
        await runtime.remove(w.ref).catch((err: unknown) => log.warn({ err, ref: w.ref }, 'reconcile: orphan remove failed'));
        firstSeenOrphan.delete(w.ref);
        report.orphansRemoved.push(w.ref);
      } else {
        report.orphansPending.push(w.ref);
      }
    }

    // Networks of workspaces that are gone (a crash between removing a workload and its network).
    // The records are read after the networks are listed: a workspace being created has its record
    // before its network, so it is never taken for an orphan.
    report.networksRemoved = await sweepNetworks(runtime, 'workspace', (id) => repo.get(id) !== undefined || deps.busy().has(id)).catch(
      (err: unknown) => (log.warn({ err }, 'reconcile: workspace network sweep'), []),
    );

    // Shared services first: a restarted app may need its database.
    if (deps.infra) report.infraStarted = await deps.infra.ensureUp().catch((err: unknown) => (log.warn({ err }, 'reconcile: shared services'), []));
    if (reconcileApps) report.apps = await reconcileApps(opts);

    const changed =
      report.abandonedCreates.length +
        report.finishedDeletes.length +
        report.crashed.length +
        report.restarted.length +
        report.orphansRemoved.length +
        report.networksRemoved.length >
        0 || appReportChanged(report.apps);
    if (changed || report.orphansPending.length || report.apps.orphansPending.length || report.infraStarted.length) log.info(report, 'reconcile');
    if (changed) deps.onChange();
    deps.onReport?.(report);
    return report;
  }
}
