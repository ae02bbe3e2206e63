/**
 * The network of each catalog app (see runtime/networks.ts): the app, the apps it depends on and
 * Berth's own Postgres/Redis containers it requires — nothing else. A dependency joins each of its
 * dependents' networks (rather than the dependents joining one network of the dependency), so two
 * apps that depend on one app do not reach each other.
 *
 * Lifecycle: `appNetwork` before the app's container is created; `linkApp` right after it (its
 * dependencies and shared services join its network; it joins the networks of installed apps that
 * depend on it, so a reinstalled dependency is reachable again); `unlinkApp` after its container is
 * removed (everything that joined is detached, then the network goes). The reconciler sweeps what a
 * crash leaves (services/reconcile-apps.ts).
 */
import type { ManagedServiceRef } from '../infra/shared-infra.js';
import type { Logger } from '../log.js';
import { appNetworkName, dropNetwork, networkOps, ownNetwork } from '../runtime/networks.js';
import type { Runtime, WorkloadRef, WorkloadSpec } from '../runtime/runtime.js';

export interface AppNetworkDeps {
  runtime: Runtime;
  log: Logger;
  installation?: string | undefined;
}

/** Creates app `name`'s network and returns the `spec.network` that joins it under the app's name. */
export function appNetwork(deps: AppNetworkDeps, name: string): Promise<WorkloadSpec['network']> {
  return ownNetwork(deps.runtime, appNetworkName(deps.installation, name), { kind: 'app', id: name }, [name]);
}

/** What `linkApp` connects, resolved by the caller from its records and catalog. */
export interface AppLinks {
  /** The app's own container. */
  ref: WorkloadRef;
  /** Installed dependencies (`dependsOn`) with their containers. */
  dependencies: { name: string; ref: WorkloadRef }[];
  /** Installed apps whose `dependsOn` names this app. */
  dependents: string[];
  /** Berth's own Postgres/Redis containers among the app's `requires` (none when they are external). */
  services: ManagedServiceRef[];
}

/** Connects app `name` as described in the module comment. No-op without networks. */
export async function linkApp(deps: AppNetworkDeps, name: string, links: AppLinks): Promise<void> {
  const net = networkOps(deps.runtime);
  if (!net) return;
  const own = appNetworkName(deps.installation, name);
  for (const d of links.dependencies) await net.connectNetwork(own, d.ref, [d.name]);
  for (const s of links.services) await net.connectNetwork(own, s.ref, [s.alias]);
  for (const dependent of links.dependents) {
    // A dependent's network is missing only if that app's install failed half-way; nothing to join then.
    await net.connectNetwork(appNetworkName(deps.installation, dependent), links.ref, [name]).catch((err: unknown) =>
      deps.log.warn({ err, app: name, dependent }, 'could not join the network of an app that depends on this one'),
    );
  }
}

/**
 * Removes app `name`'s network after its container: detaches `attached` (its dependencies and the
 * shared services; missing ones are fine), then removes it. A failure is logged: the reconciler's
 * sweep retries.
 */
export async function unlinkApp(deps: AppNetworkDeps, name: string, attached: readonly WorkloadRef[]): Promise<void> {
  const network = appNetworkName(deps.installation, name);
  const gone = await dropNetwork(deps.runtime, network, attached).catch((err: unknown) => (deps.log.warn({ err, network }, 'app network remove failed'), false));
  if (!gone) deps.log.warn({ network }, 'app network still in use; the reconciler removes it later');
}
