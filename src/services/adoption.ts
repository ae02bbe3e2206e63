/**
 * Which unlabelled workloads and networks this installation adopts (see runtime/installation.ts).
 *
 * Berths before installation labels put `berth.kind` / `berth.id` on their workloads but nothing
 * that says whose they are. After the upgrade such a workload is this installation's only when a
 * record of this installation names it:
 * - a workspace or an app: its record's engine ref is the container's id (ids are unique per
 *   engine, so another Berth's `demo` or its copy of the same app never matches);
 * - a preview workload or network: a preview record with its id (preview ids are random);
 * - Berth's own Postgres/Redis: its infra record predates installation names and the workload has
 *   the old name (`InfraService.claimsUnlabelled`).
 * Anything else unlabelled is never listed, so no reconcile pass or reaper removes it: it may be
 * another Berth's, still running an older version. Adopted workloads keep their names and labels
 * (engines cannot relabel a container); they are replaced by labelled ones on their next re-create.
 */
import { INFRA_LABEL_KIND } from '../infra/managed-blueprints.js';
import type { InstallationScope } from '../runtime/installation.js';
import { LABEL_ID, LABEL_KIND, type NetworkSummary, type WorkloadSummary } from '../runtime/runtime.js';

/** The records adoption consults; each a lookup by id. */
export interface AdoptionRecords {
  workspaceRef(id: string): string | null | undefined;
  appRef(name: string): string | null | undefined;
  previewExists(id: string): boolean;
  infraClaims(w: WorkloadSummary): boolean;
}

/** The `adoptWorkload` / `adoptNetwork` rules of an installation scope; see the module comment. */
export function adoptionRules(records: AdoptionRecords): Pick<InstallationScope, 'adoptWorkload' | 'adoptNetwork'> {
  return {
    adoptWorkload(w: WorkloadSummary): boolean {
      const id = w.labels[LABEL_ID] ?? '';
      switch (w.labels[LABEL_KIND]) {
        case 'workspace':
          return w.ref !== '' && records.workspaceRef(id) === w.ref;
        case 'app':
          return w.ref !== '' && records.appRef(id) === w.ref;
        case 'preview':
          return records.previewExists(id);
        case INFRA_LABEL_KIND:
          return records.infraClaims(w);
        default:
          return false;
      }
    },
    adoptNetwork(n: NetworkSummary): boolean {
      return n.labels[LABEL_KIND] === 'preview' && records.previewExists(n.labels[LABEL_ID] ?? '');
    },
  };
}
