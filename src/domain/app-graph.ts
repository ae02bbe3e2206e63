/**
 * The app dependency graph (pure). `dependsOn` edges go from an app to the catalog apps it needs;
 * `requires` edges go to the shared services (postgres, redis), which are always leaves. Install
 * plans, uninstall checks and restart order are all read off this graph, and every refusal
 * (cycle, missing app) happens here, before anything is created.
 */
import { BerthError } from '../errors.js';
import type { InfraKind } from './app.js';

/** What the graph needs to know about an app (an AppManifest fits). */
export interface GraphApp {
  readonly name: string;
  readonly requires: readonly InfraKind[];
  readonly dependsOn: readonly string[];
}

export type Catalog = ReadonlyMap<string, GraphApp>;

export interface InstallStep {
  app: string;
  /** What must be healthy before this app starts: its shared services, then the apps it depends on. */
  waitFor: { infra: InfraKind[]; apps: string[] };
}

export interface InstallPlan {
  target: string;
  /** Apps to create and start, in order: every dependency before its dependents, the target last. */
  steps: InstallStep[];
  /** Shared services the steps need, each once, in first-use order. */
  infra: InfraKind[];
  /** Dependencies that are installed already; they only need to be healthy. */
  alreadyInstalled: string[];
}

/**
 * Plans installing `target`: the missing apps it (transitively) depends on come first, in
 * dependency order, then the target. Apps in `installed` are not started again (an installed
 * target gives an empty plan; the caller decides whether that is an error). Siblings keep the
 * order they are listed in `dependsOn`, so plans are deterministic.
 *
 * Throws BerthError E_APP_NOT_FOUND when the target is not in the catalog, and E_DEPENDENCY for a
 * cycle or a dependency that is neither in the catalog nor installed. An installed app that left
 * the catalog still satisfies its dependents (it is running), but its own edges are unknown.
 */
export function planInstall(target: string, catalog: Catalog, installed: ReadonlySet<string>): InstallPlan {
  if (!catalog.has(target)) {
    throw new BerthError('E_APP_NOT_FOUND', `no app named "${target}" in the catalog`, { hint: 'list apps with `berth app catalog`' });
  }
  const order = topoFrom([target], catalog, installed, true);
  const steps: InstallStep[] = [];
  const infra: InfraKind[] = [];
  const alreadyInstalled: string[] = [];
  for (const name of order) {
    if (installed.has(name)) {
      if (name !== target) alreadyInstalled.push(name);
      continue;
    }
    const app = catalog.get(name)!;
    for (const k of app.requires) if (!infra.includes(k)) infra.push(k);
    steps.push({ app: name, waitFor: { infra: [...app.requires], apps: [...app.dependsOn] } });
  }
  return { target, steps, infra, alreadyInstalled };
}

/**
 * Start order for a set of apps (daemon restart, `infra up` followed by apps): dependencies first.
 * Dependencies outside `names` are not added; unknown ones are ignored (they cannot be started).
 * Throws E_DEPENDENCY on a cycle.
 */
export function startOrder(names: Iterable<string>, catalog: Catalog): string[] {
  const wanted = new Set(names);
  return topoFrom([...wanted].sort(), catalog, new Set(), false).filter((n) => wanted.has(n));
}

/** Installed apps that depend directly on `name`, sorted: uninstalling `name` would break them. */
export function dependentsOf(name: string, catalog: Catalog, installed: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const other of installed) {
    if (other !== name && catalog.get(other)?.dependsOn.includes(name)) out.push(other);
  }
  return out.sort();
}

/** Refuses to uninstall an app other installed apps depend on (E_DEPENDENCY, naming them). */
export function checkUninstall(name: string, catalog: Catalog, installed: ReadonlySet<string>): void {
  const dependents = dependentsOf(name, catalog, installed);
  if (dependents.length > 0) {
    throw new BerthError('E_DEPENDENCY', `"${name}" is needed by ${dependents.map((d) => `"${d}"`).join(', ')}`, {
      hint: 'uninstall those apps first',
    });
  }
}

/** The first dependency cycle in the whole catalog (`[a, b, a]`), or null. For catalog validation. */
export function findCycle(catalog: Catalog): string[] | null {
  try {
    topoFrom([...catalog.keys()].sort(), catalog, new Set(), false);
    return null;
  } catch (err) {
    if (err instanceof CycleError) return err.cycle;
    throw err;
  }
}

class CycleError extends BerthError {
  constructor(readonly cycle: string[]) {
    super('E_DEPENDENCY', `dependency cycle: ${cycle.join(' → ')}`, { hint: 'remove one of the dependsOn entries in the cycle' });
  }
}

/**
 * Depth-first post-order from `roots`: every app after all of its dependencies. With `strict`, a
 * dependency that is neither in the catalog nor installed is an error; otherwise it is skipped.
 */
function topoFrom(roots: readonly string[], catalog: Catalog, installed: ReadonlySet<string>, strict: boolean): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  // The current DFS path, to name the cycle when a back edge shows up.
  const path: string[] = [];
  const onPath = new Set<string>();

  const visit = (name: string): void => {
    if (done.has(name)) return;
    if (onPath.has(name)) throw new CycleError([...path.slice(path.indexOf(name)), name]);
    const app = catalog.get(name);
    if (!app) {
      done.add(name);
      if (installed.has(name)) order.push(name);
      else if (strict) {
        const chain = [...path, name].join(' → ');
        throw new BerthError('E_DEPENDENCY', `"${path[path.length - 1]}" depends on "${name}", which is not in the catalog (${chain})`, {
          hint: `add "${name}" to a catalog directory or remove it from dependsOn`,
        });
      }
      return;
    }
    path.push(name);
    onPath.add(name);
    for (const dep of app.dependsOn) visit(dep);
    path.pop();
    onPath.delete(name);
    done.add(name);
    order.push(name);
  };

  for (const root of roots) visit(root);
  return order;
}
