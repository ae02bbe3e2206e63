/**
 * Installation scope: several Berths may share one engine (two daemons on one podman, each with its
 * own data dir, port and range). Each must touch only its own workloads and networks — before this
 * scope existed, the second daemon's reconciler listed the first one's workspace container by
 * `berth.kind` and removed it as an orphan within 15 s.
 *
 * `scopeToInstallation(runtime, scope)` wraps a driver so that everything it creates carries
 * `berth.installation=<id>` (LABEL_INSTALLATION) and everything it lists is this installation's:
 * callers (reconcilers, reapers, infra) cannot forget the filter because they never see the rest.
 * The daemon hands every service the wrapped runtime. Engine-visible names that are not random
 * (apps, Berth's own Postgres/Redis, their volumes, networks) carry `installationTag(id)` too, so
 * two Berths installing the same app do not collide on a name (see `scopedName`).
 *
 * Adoption on upgrade: workloads made before installations were labelled carry Berth's labels but
 * no LABEL_INSTALLATION. Such a workload is listed (adopted) only when `scope.adoptWorkload` says a
 * record of this installation claims it (services/adoption.ts: a record whose recorded engine ref
 * is that container's id); an unlabelled workload no record claims is never listed, so no sweep
 * ever removes it — it may be another, older Berth's. A workload labelled for another installation
 * is never listed. The same holds for networks (`scope.adoptNetwork`).
 */
import { LABEL_INSTALLATION, type NetworkSummary, type Runtime, type WorkloadSummary } from './runtime.js';

/** This installation and how it recognises its own unlabelled (pre-upgrade) objects. */
export interface InstallationScope {
  /** This installation's id (store/instance-id.ts): 12 hex characters. */
  id: string;
  /** Whether an unlabelled workload is this installation's (a record claims it). Default: never. */
  adoptWorkload?(w: WorkloadSummary): boolean;
  /** Whether an unlabelled network is this installation's. Default: never. */
  adoptNetwork?(n: NetworkSummary): boolean;
}

/** The short, name-safe part of an installation id used in engine-visible names. */
export const installationTag = (id: string): string => id.slice(0, 8);

/**
 * `berth-<tag>-<parts…>` for installation `id`; without one (tests that drive services on a bare
 * runtime, and objects made before installations were labelled) the legacy `berth-<parts…>`.
 */
export function scopedName(id: string | undefined, ...parts: string[]): string {
  return id ? `berth-${installationTag(id)}-${parts.join('-')}` : `berth-${parts.join('-')}`;
}

/** Whether `labels` put an object in installation `id`, or (unlabelled) leave it to adoption. */
function belongs(labels: Record<string, string>, id: string, adopt: () => boolean): boolean {
  const owner = labels[LABEL_INSTALLATION];
  if (owner !== undefined) return owner === id;
  return adopt();
}

/** `runtime` seen from one installation; see the module comment. Capabilities and name are the driver's. */
export function scopeToInstallation(runtime: Runtime, scope: InstallationScope): Runtime {
  const label = { [LABEL_INSTALLATION]: scope.id };
  // Every method is forwarded by name (no spread): a new method must be scoped here on purpose.
  const scoped: Runtime = {
    name: runtime.name,
    capabilities: runtime.capabilities,
    probe: () => runtime.probe(),
    create: (spec) => runtime.create({ ...spec, labels: { ...spec.labels, ...label } }),
    start: (ref) => runtime.start(ref),
    stop: (ref, opts) => runtime.stop(ref, opts),
    remove: (ref) => runtime.remove(ref),
    inspect: (ref) => runtime.inspect(ref),
    logs: (ref, opts) => runtime.logs(ref, opts),
    exec: (ref, argv, opts) => runtime.exec(ref, argv, opts),
    // One engine call, filtered here: unlabelled workloads must be seen to be adopted, and the
    // engines cannot filter on a label's absence. A caller asking for another installation gets [].
    async list(labels) {
      if (labels[LABEL_INSTALLATION] !== undefined && labels[LABEL_INSTALLATION] !== scope.id) return [];
      const all = await runtime.list(labels);
      return all.filter((w) => belongs(w.labels, scope.id, () => scope.adoptWorkload?.(w) ?? false));
    },
  };
  if (runtime.build) scoped.build = (dir, file, tag) => runtime.build!(dir, file, tag);
  if (runtime.removeImage) scoped.removeImage = (tag) => runtime.removeImage!(tag);
  if (runtime.removeVolume) scoped.removeVolume = (name) => runtime.removeVolume!(name);
  if (runtime.listVolumes) {
    // Only volumes labelled for this installation: no record names a volume's engine id, so an
    // unlabelled one (made before volumes were labelled) cannot be adopted and is never listed.
    scoped.listVolumes = async (labels) => {
      if (labels[LABEL_INSTALLATION] !== undefined && labels[LABEL_INSTALLATION] !== scope.id) return [];
      return runtime.listVolumes!({ ...labels, ...label });
    };
  }
  // Refs come from this installation's records; measuring another's container reveals nothing it could change.
  if (runtime.stats) scoped.stats = (refs, opts) => runtime.stats!(refs, opts);
  if (runtime.createNetwork) scoped.createNetwork = (name, labels) => runtime.createNetwork!(name, { ...labels, ...label });
  if (runtime.removeNetwork) scoped.removeNetwork = (name) => runtime.removeNetwork!(name);
  if (runtime.connectNetwork) scoped.connectNetwork = (name, ref, aliases) => runtime.connectNetwork!(name, ref, aliases);
  if (runtime.disconnectNetwork) scoped.disconnectNetwork = (name, ref) => runtime.disconnectNetwork!(name, ref);
  if (runtime.listNetworks) {
    scoped.listNetworks = async (labels) => {
      if (labels[LABEL_INSTALLATION] !== undefined && labels[LABEL_INSTALLATION] !== scope.id) return [];
      const all = await runtime.listNetworks!(labels);
      return all.filter((n) => belongs(n.labels, scope.id, () => scope.adoptNetwork?.(n) ?? false));
    };
  }
  return scoped;
}
