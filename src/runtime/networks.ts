/**
 * Container networks Berth makes, one per tenant boundary (issue 11, item 7). Before, every
 * workspace and app sat on one shared network, where any container could dial any other's ports
 * directly, past the edge and its access checks. Now:
 *
 * - each workspace has a network of its own (`berth-<tag>-ws-<id>`). Per workspace rather than
 *   per owner: the boundary is then the same as the edge's (a workspace's routes), its lifetime is
 *   the workspace's (made before its container, removed after it — no reference counting across
 *   workspaces), and two workspaces of one user are not linked by accident. The cost is one bridge
 *   per workspace; docker's default address pools hold about 30 bridge networks, so large docker
 *   installs set `default-address-pools` in daemon.json (podman's default pool has 255).
 * - each app has a network of its own (`berth-<tag>-app-<name>`) that the app, the apps it
 *   depends on (`dependsOn`, under their names) and Berth's own Postgres/Redis (when it runs them
 *   as containers, under `berth-postgres` / `berth-redis`) join — nothing else. Two apps that
 *   depend on one app do not see each other: the dependency joins each dependent's network.
 * - previews keep one network per preview (services/previews-workloads.ts).
 *
 * The edge reaches every workload through its loopback-published ports, on no network at all.
 * Networks carry LABEL_KIND / LABEL_ID of their workload (and, through the installation scope,
 * LABEL_INSTALLATION): the reconciler removes this installation's networks no record claims, so a
 * crash between a workload's removal and its network's is repaired on the next pass.
 * The process runtime has no networks (`capabilities.networks` false): nothing here applies.
 */
import { isBerthError } from '../errors.js';
import { scopedName } from './installation.js';
import { LABEL_ID, LABEL_KIND, type NetworkSummary, type Runtime, type WorkloadSpec } from './runtime.js';

/** The network operations of a runtime that has them. */
export type NetworkOps = Required<Pick<Runtime, 'createNetwork' | 'removeNetwork' | 'listNetworks' | 'connectNetwork' | 'disconnectNetwork'>>;

/** The runtime's network operations, or null when it has none (process: workloads share loopback). */
export function networkOps(rt: Runtime): NetworkOps | null {
  const has = rt.capabilities.networks && rt.createNetwork && rt.removeNetwork && rt.listNetworks && rt.connectNetwork && rt.disconnectNetwork;
  return has ? (rt as NetworkOps) : null;
}

/** Network of workspace `id`. */
export const workspaceNetworkName = (installation: string | undefined, id: string): string => scopedName(installation, 'ws', id);
/** Network of app `name` (the app, its dependencies and the shared services it requires). */
export const appNetworkName = (installation: string | undefined, name: string): string => scopedName(installation, 'app', name);
/** Network Berth's own Postgres/Redis containers are created on (they join app networks from there). */
export const infraNetworkName = (installation: string | undefined): string => scopedName(installation, 'infra');

/**
 * Makes network `name` (idempotent) labelled as `kind`/`id`'s and returns the `spec.network` that
 * joins it under `aliases`; undefined on runtimes without networks.
 */
export async function ownNetwork(rt: Runtime, name: string, owner: { kind: string; id: string }, aliases: string[] = []): Promise<WorkloadSpec['network']> {
  const net = networkOps(rt);
  if (!net) return undefined;
  await net.createNetwork(name, { [LABEL_KIND]: owner.kind, [LABEL_ID]: owner.id });
  return { name, aliases };
}

/**
 * Removes network `name` once its owner's workload is gone: first detaches `detach` (workloads that
 * joined it from elsewhere: dependencies, shared services), then removes it. Resolves false when a
 * workload still uses it (the reconciler's sweep retries); true when it is gone. Never throws for
 * a missing network or workload.
 */
export async function dropNetwork(rt: Runtime, name: string, detach: readonly string[] = []): Promise<boolean> {
  const net = networkOps(rt);
  if (!net) return true;
  for (const ref of detach) await net.disconnectNetwork(name, ref).catch(() => undefined);
  try {
    await net.removeNetwork(name);
    return true;
  } catch (err) {
    if (isBerthError(err) && err.code === 'E_INVALID_STATE') return false;
    throw err;
  }
}

/**
 * This installation's networks of `kind` whose LABEL_ID `claimed` does not know, removed after
 * detaching `detach()` (listed once, only when there is something to remove). Resolves to the names
 * removed; one still in use is left for a later pass.
 */
export async function sweepNetworks(rt: Runtime, kind: string, claimed: (id: string) => boolean, detach: () => Promise<string[]> = async () => []): Promise<string[]> {
  const net = networkOps(rt);
  if (!net) return [];
  const unclaimed = (await net.listNetworks({ [LABEL_KIND]: kind })).filter((n: NetworkSummary) => !claimed(n.labels[LABEL_ID] ?? ''));
  if (!unclaimed.length) return [];
  const refs = await detach();
  const removed: string[] = [];
  for (const n of unclaimed) if (await dropNetwork(rt, n.name, refs).catch(() => false)) removed.push(n.name);
  return removed;
}
