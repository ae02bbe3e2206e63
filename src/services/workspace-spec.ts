/**
 * What a workspace record becomes on the runtime: its workload spec (image, command, env with
 * Berth's injected variables, ports, labels, network, the `berth-url` helper, the data volume). Pure: the service
 * creates (and recreates) workloads from it, so every path builds the same spec.
 */
import type { BerthConfig } from '../config/schema.js';
import { dashboardUrlOf, injectedEnv, type Workspace } from '../domain/workspace.js';
import { scopedName } from '../runtime/installation.js';
import { LABEL_ID, LABEL_KIND, LABEL_OWNER, type WorkloadSpec } from '../runtime/runtime.js';

/** Engine-visible name of a workspace's workload: `berth-<installation tag>-ws-<id>`. */
export const workloadName = (id: string, installation?: string): string => scopedName(installation, 'ws', id);

/** What the spec needs besides the record. */
export interface WorkspaceSpecContext {
  config: BerthConfig;
  /** Host path of the `berth-url` helper, mounted at /usr/local/bin/berth-url. */
  berthUrlHelper: string;
  installation?: string | undefined;
  /** The workspace's own network (runtime/networks.ts), when the runtime has networks. */
  network?: WorkloadSpec['network'] | undefined;
  /** The workspace's `/llm/` credential, when one was issued. */
  llmToken?: string | undefined;
}

/**
 * Berth's `/llm/` as the workspace reaches it, or undefined when the LLM proxy is off. It lives
 * on the dashboard's origin: the apps origin (the workspace's hosting) serves workload content only.
 */
export function llmUrlOf(config: BerthConfig, ws: Workspace): string | undefined {
  return config.llmBaseUrl ? `${dashboardUrlOf(ws.hosting)}/llm` : undefined;
}

/**
 * User env, then Berth's injected variables (which the user cannot override). BERTH_DATA_PATH
 * names where the data volume is: on the process runtime, which cannot mount, the driver rewrites
 * it to the volume's host directory, so a workload that reads it works on every runtime.
 */
export function workspaceEnv(config: BerthConfig, ws: Workspace, llmToken: string | undefined): Record<string, string> {
  const llmUrl = llmUrlOf(config, ws);
  const data = dataVolumeOf(ws);
  return {
    ...ws.env,
    ...injectedEnv(ws, llmUrl ? { llmUrl, ...(llmToken ? { llmToken } : {}) } : {}),
    ...(data ? { BERTH_DATA_PATH: data.target } : {}),
  };
}

/** The workspace's data volume as a spec volume, or null (records made before data volumes, or created without one). */
export function dataVolumeOf(ws: Pick<Workspace, 'dataVolume' | 'dataPath'>): { name: string; target: string } | null {
  return ws.dataVolume && ws.dataPath ? { name: ws.dataVolume, target: ws.dataPath } : null;
}

/** The workload spec of a workspace record. */
export function workloadSpec(ws: Workspace, ctx: WorkspaceSpecContext): WorkloadSpec {
  const { config } = ctx;
  const data = dataVolumeOf(ws);
  return {
    name: workloadName(ws.id, ctx.installation),
    image: ws.image,
    ...(ws.command ? { command: ws.command } : {}),
    env: workspaceEnv(config, ws, ctx.llmToken),
    ports: ws.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort })),
    // The owner label is copied onto the data volume, so a volume kept after `ws rm --keep-data` still has one.
    labels: { [LABEL_KIND]: 'workspace', [LABEL_ID]: ws.id, 'berth.name': ws.name, ...(ws.ownerId ? { [LABEL_OWNER]: ws.ownerId } : {}) },
    ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
    // Limits given at create (checked by workspace-limits.ts); none: the engine's default, unlimited.
    ...(ws.cpus !== null || ws.memoryMb !== null
      ? { resources: { ...(ws.cpus !== null ? { cpus: ws.cpus } : {}), ...(ws.memoryMb !== null ? { memoryMb: ws.memoryMb } : {}) } }
      : {}),
    files: [{ hostPath: ctx.berthUrlHelper, containerPath: '/usr/local/bin/berth-url' }],
    // The same volume at every (re)create: the data outlives the workload (services/workspace-data.ts).
    ...(data ? { volumes: [data] } : {}),
    // A network of its own: no other tenant's container reaches its ports (see runtime/networks.ts).
    ...(ctx.network ? { network: ctx.network } : {}),
  };
}
