/**
 * What a workspace record becomes on the runtime: its workload spec (image, command, env with
 * Berth's injected variables, ports, labels, network, the `berth-url` helper). Pure: the service
 * creates (and recreates) workloads from it, so every path builds the same spec.
 */
import type { BerthConfig } from '../config/schema.js';
import { dashboardUrlOf, injectedEnv, type Workspace } from '../domain/workspace.js';
import { scopedName } from '../runtime/installation.js';
import { LABEL_ID, LABEL_KIND, type WorkloadSpec } from '../runtime/runtime.js';

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

/** User env, then Berth's injected variables (which the user cannot override). */
export function workspaceEnv(config: BerthConfig, ws: Workspace, llmToken: string | undefined): Record<string, string> {
  const llmUrl = llmUrlOf(config, ws);
  return { ...ws.env, ...injectedEnv(ws, llmUrl ? { llmUrl, ...(llmToken ? { llmToken } : {}) } : {}) };
}

/** The workload spec of a workspace record. */
export function workloadSpec(ws: Workspace, ctx: WorkspaceSpecContext): WorkloadSpec {
  const { config } = ctx;
  return {
    name: workloadName(ws.id, ctx.installation),
    image: ws.image,
    ...(ws.command ? { command: ws.command } : {}),
    env: workspaceEnv(config, ws, ctx.llmToken),
    ports: ws.ports.map((p) => ({ containerPort: p.containerPort, hostPort: p.hostPort })),
    labels: { [LABEL_KIND]: 'workspace', [LABEL_ID]: ws.id, 'berth.name': ws.name },
    ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
    files: [{ hostPath: ctx.berthUrlHelper, containerPath: '/usr/local/bin/berth-url' }],
    // A network of its own: no other tenant's container reaches its ports (see runtime/networks.ts).
    ...(ctx.network ? { network: ctx.network } : {}),
  };
}
