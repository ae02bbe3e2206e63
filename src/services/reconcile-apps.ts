/**
 * The apps half of the reconciler (reconcile.ts runs it inside every pass, after workspaces).
 * Same structure as workspaces, keyed by the app's workload ref:
 *
 * - an app left `installing` by a crash mid-install (seen at start-up only): its workloads are
 *   removed and it is marked failed, ports released, so it can be installed again;
 * - a `running` app whose workload exited or vanished: `failed` with the exit code, and — when its
 *   restart policy says so (manifest `restart`, default `always`) — a restart after the same
 *   backoff as workspaces (1 s, 2 s, 4 s … 5 min). Its ports and route stay (503 meanwhile);
 * - a failed app whose restart is due: started again, `running`, restart counted;
 * - a running workload labelled `berth.kind=app` that no app record claims (an orphan): stopped
 *   and removed once it has been unclaimed for the grace period;
 * - an app network no record claims: removed, after detaching what joined it.
 *
 * Apps with an install or uninstall in flight are left alone.
 */
import { crashRestartDelayMs, restartDelayMs, shouldRestart } from '../domain/workspace.js';
import type { Logger } from '../log.js';
import { INFRA_LABEL_KIND } from '../infra/managed-blueprints.js';
import { sweepNetworks } from '../runtime/networks.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { AppsRepo } from '../store/apps-repo.js';

/** What one pass did to apps. */
export interface AppReconcileReport {
  /** Installs interrupted by a daemon crash: workload removed, app failed, ports released. */
  abandonedInstalls: string[];
  /** Apps whose workload exited or vanished: now `failed` with the reason (and maybe a restart due). */
  crashed: string[];
  /** Apps restarted by their restart policy this pass. */
  restarted: string[];
  /** Labelled app workloads no record claims, stopped and removed after the grace period. */
  orphansRemoved: string[];
  /** Orphans seen, not yet past the grace period. */
  orphansPending: string[];
  /** This installation's app networks no record claims, removed (services/app-networks.ts). */
  networksRemoved: string[];
}

export interface AppReconcilerDeps {
  repo: AppsRepo;
  runtime: Runtime;
  log: Logger;
  orphanGraceMs: number;
  /** Apps with an install or uninstall in flight in this process. */
  busy: () => ReadonlySet<string>;
}

/** Seconds an orphan gets to stop gracefully before it is killed and removed. */
const ORPHAN_STOP_SECONDS = 5;

export const emptyAppReport = (): AppReconcileReport => ({ abandonedInstalls: [], crashed: [], restarted: [], orphansRemoved: [], orphansPending: [], networksRemoved: [] });

/** True when the pass changed something the route table shows. */
export const appReportChanged = (r: AppReconcileReport): boolean =>
  r.abandonedInstalls.length + r.crashed.length + r.restarted.length + r.orphansRemoved.length + r.networksRemoved.length > 0;

/** Creates the apps pass; it keeps when each orphan was first seen between passes. */
export function createAppReconciler(deps: AppReconcilerDeps) {
  const firstSeenOrphan = new Map<string, number>();

  return async function reconcileApps(opts: { startup?: boolean }): Promise<AppReconcileReport> {
    const report = emptyAppReport();
    const { repo, runtime, log } = deps;
    const busy = deps.busy();
    const workloads = await runtime.list({ [LABEL_KIND]: 'app' });
    const byRef = new Map(workloads.map((w) => [w.ref, w]));
    const removeQuietly = (ref: string, app: string): Promise<void> =>
      runtime.remove(ref).catch((err: unknown) => log.warn({ err, app, ref }, 'reconcile: app workload remove failed'));

    for (const app of repo.list()) {
      if (busy.has(app.name)) continue;
      if (app.state === 'installing') {
        // Only a crash mid-install leaves this state behind across a start: nothing waits on it.
        if (!opts.startup) continue;
        for (const w of workloads.filter((x) => x.labels[LABEL_ID] === app.name)) await removeQuietly(w.ref, app.name);
        repo.markFailed(app.name, 'the install was interrupted by a daemon restart; install the app again');
        report.abandonedInstalls.push(app.name);
        continue;
      }
      // A failed install keeps no workload: nothing to watch.
      if (!app.runtimeRef) continue;
      const w = byRef.get(app.runtimeRef);
      if (app.state === 'failed') {
        if (!w || app.nextRestartAt === null || app.nextRestartAt > Date.now()) continue;
        try {
          await runtime.start(w.ref);
          const status = await runtime.inspect(w.ref);
          repo.update(app.name, { state: 'running', reason: null, upstreamHost: status.upstreamHost, nextRestartAt: null, exitCode: null, restartCount: app.restartCount + 1 });
          log.info({ app: app.name, restartCount: app.restartCount + 1 }, 'app restarted');
          report.restarted.push(app.name);
        } catch (err) {
          log.warn({ err, app: app.name }, 'reconcile: app restart failed');
          repo.update(app.name, { nextRestartAt: Date.now() + restartDelayMs(app.restartCount + 2) });
        }
        continue;
      }
      if (w?.state === 'running') continue;
      // `workloads` was listed before the rows were read: an install that finished in between is
      // running but missing from that list. Ask the runtime about the recorded ref before
      // recording a crash, and leave the app alone if an install or uninstall began meanwhile.
      const status = await runtime.inspect(app.runtimeRef).catch(() => null);
      if (status?.state === 'running' || deps.busy().has(app.name)) continue;
      const exists = w !== undefined || (status !== null && status.state !== 'missing');
      const exitCode = status?.exitCode ?? null;
      let reason = exists ? `the workload exited with code ${exitCode ?? '?'}` : 'the workload disappeared from the runtime; install the app again';
      let nextRestartAt: number | null = null;
      if (exists && shouldRestart(app.restartPolicy, exitCode)) {
        const delay = crashRestartDelayMs(app.restartCount, status?.startedAt ?? null, status?.finishedAt ?? null);
        nextRestartAt = Date.now() + delay;
        reason += `; restart ${app.restartCount + 1} (policy ${app.restartPolicy}) in ${Math.round(delay / 1000)} s`;
      }
      repo.update(app.name, { state: 'failed', reason, exitCode, nextRestartAt });
      log.warn({ app: app.name, exitCode, reason }, 'app crashed');
      report.crashed.push(app.name);
    }

    // Claimed: the recorded workload of each app, and anything of an app being installed (its ref
    // may not be recorded yet) or worked on right now.
    const apps = repo.list();
    const claimedRefs = new Set(apps.flatMap((a) => (a.runtimeRef ? [a.runtimeRef] : [])));
    const claimedNames = new Set([...apps.filter((a) => a.state === 'installing').map((a) => a.name), ...deps.busy()]);
    const now = Date.now();
    for (const w of workloads) {
      if (claimedRefs.has(w.ref) || claimedNames.has(w.labels[LABEL_ID] ?? '')) {
        firstSeenOrphan.delete(w.ref);
        continue;
      }
      const seen = firstSeenOrphan.get(w.ref) ?? now;
      firstSeenOrphan.set(w.ref, seen);
      if (now - seen < deps.orphanGraceMs) {
        report.orphansPending.push(w.ref);
        continue;
      }
      log.warn({ ref: w.ref, name: w.name, app: w.labels[LABEL_ID] }, 'removing an app workload no record claims');
      if (w.state === 'running') {
        await runtime.stop(w.ref, { timeoutSeconds: ORPHAN_STOP_SECONDS }).catch((err: unknown) => log.warn({ err, ref: w.ref }, 'reconcile: orphan stop failed'));
      }
      await removeQuietly(w.ref, w.labels[LABEL_ID] ?? '');
      firstSeenOrphan.delete(w.ref);
      report.orphansRemoved.push(w.ref);
    }
    for (const ref of firstSeenOrphan.keys()) if (!byRef.has(ref)) firstSeenOrphan.delete(ref);

    // Networks of apps that are gone; what joined them (other apps, Berth's Postgres/Redis) is
    // detached first. Records are read after the listing, as above.
    report.networksRemoved = await sweepNetworks(runtime, 'app', (name) => repo.get(name) !== undefined || deps.busy().has(name), async () => {
      const joined = [...(await runtime.list({ [LABEL_KIND]: 'app' })), ...(await runtime.list({ [LABEL_KIND]: INFRA_LABEL_KIND }))];
      return joined.map((w) => w.ref);
    }).catch((err: unknown) => (log.warn({ err }, 'reconcile: app network sweep'), []));
    return report;
  };
}
