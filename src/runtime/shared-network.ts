/**
 * Berth's own network, `berth`, for workspaces, catalog apps and Berth's shared Postgres/Redis on
 * runtimes with networks (podman, docker). Why not the engine's default network: each preview runs
 * on a network of its own made with `createNetwork`, and such networks are kept apart from each
 * other — but on podman (netavark 1.4, `isolate=true`) not from the default network, where a
 * preview's containers (code from a pull request) could reach a workspace's or an app's container
 * ports directly, past the edge and its access checks (measured: `nc` from a container on an
 * isolated network to one on the default network answered `HTTP/1.1 200 OK`, and back). With
 * everything Berth runs on networks it made, previews reach none of it.
 *
 * Containers made before this network existed stay where they are: on podman they still reach
 * and are reached from it (the default network is not isolated); on docker they keep their own
 * default bridge until they are recreated.
 */
import { LABEL_ID, LABEL_KIND, type NetworkSummary, type Runtime, type WorkloadSpec } from './runtime.js';

/** Name of the shared network. */
export const SHARED_NETWORK = 'berth';

/** The network operations of a runtime that has them. */
export type NetworkOps = Required<Pick<Runtime, 'createNetwork' | 'removeNetwork' | 'listNetworks'>>;

/** The runtime's network operations, or null when it has none (process: workloads share loopback). */
export function networkOps(rt: Runtime): NetworkOps | null {
  const has = rt.capabilities.networks && rt.createNetwork && rt.removeNetwork && rt.listNetworks;
  return has ? (rt as NetworkOps) : null;
}

/** Creation in flight or done, per runtime: one `network create` per daemon, not one per workload. */
const ensured = new WeakMap<Runtime, Promise<unknown>>();

/**
 * `spec.network` for a workspace, app or shared service: the shared network (created on first use;
 * idempotent), joined under `aliases`. Undefined on runtimes without networks.
 */
export async function sharedNetwork(runtime: Runtime, aliases: string[] = []): Promise<WorkloadSpec['network']> {
  const net = networkOps(runtime);
  if (!net) return undefined;
  let creating = ensured.get(runtime);
  if (!creating) {
    creating = net.createNetwork(SHARED_NETWORK, { [LABEL_KIND]: 'shared', [LABEL_ID]: SHARED_NETWORK });
    ensured.set(runtime, creating);
    // A failed attempt is not remembered: the next workload tries again.
    creating.catch(() => ensured.delete(runtime));
  }
  await creating;
  return { name: SHARED_NETWORK, aliases };
}

export type { NetworkSummary };
