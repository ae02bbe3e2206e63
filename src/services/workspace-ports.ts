/**
 * Per-port settings of a workspace: how each port forwards its `/hosted/{id}/{port}` prefix
 * (`strip` | `keep`) and its label. Chosen at create (resolved before any port is allocated, so a
 * bad request changes nothing) and changed later (applied to the stored ports; the service emits
 * `changed` and the edge swaps its route table at once).
 *
 * A port is named by its container port, its host port (after create) or its index (0 = the first
 * port, the one in $PORT). The index exists for the process runtime, where a port's container port
 * IS its host port and so cannot be known before the create allocates it.
 */
import { BerthError } from '../errors.js';
import type { PrefixMode, Workspace } from '../domain/workspace.js';

/** How a request names one port of a workspace. */
export type PortRef = { containerPort: number } | { hostPort: number } | { index: number };

/** Settings of one port; absent fields keep their value (create: strip, no label). */
export interface PortSettings {
  prefix?: PrefixMode | undefined;
  label?: string | null | undefined;
}

/** One entry of `ports` in a create or update request. */
export type PortSpec = PortRef & PortSettings;

/** What a create knows about its ports before they are allocated. */
export interface PortLayout {
  /** Ports per workspace (BERTH_PORTS_PER_WORKSPACE). */
  count: number;
  /** Container port of port 0 (ports are base … base+count-1), or null when container ports are the host ports (process runtime). */
  containerPortBase: number | null;
}

/** `{containerPort: 8000}` → "container port 8000", for messages. */
export function describeRef(ref: PortRef): string {
  if ('containerPort' in ref) return `container port ${ref.containerPort}`;
  if ('hostPort' in ref) return `host port ${ref.hostPort}`;
  return `port index ${ref.index}`;
}

function unknownPort(ref: PortRef, hint: string): BerthError {
  return new BerthError('E_UNKNOWN_PORT', `${describeRef(ref)} is not one of this workspace's ports`, { hint });
}

function indexAtCreate(ref: PortRef, layout: PortLayout): number {
  const last = layout.count - 1;
  const byIndex = `name it by index instead: 0 (the first port, $PORT) to ${last}`;
  if ('index' in ref) {
    if (ref.index > last) throw unknownPort(ref, `a workspace has ${layout.count} ports here: indexes 0 to ${last}`);
    return ref.index;
  }
  if ('hostPort' in ref) throw unknownPort(ref, `host ports are allocated by the create itself; ${byIndex}`);
  if (layout.containerPortBase === null) {
    throw unknownPort(ref, `on this runtime a port's container port is its host port, allocated by the create; ${byIndex}`);
  }
  const i = ref.containerPort - layout.containerPortBase;
  if (i < 0 || i > last) {
    throw unknownPort(ref, `a workspace's container ports are ${layout.containerPortBase} to ${layout.containerPortBase + last} (or index 0 to ${last})`);
  }
  return i;
}

/** Drops the ref fields of a spec, keeping only the settings that were given. */
function settingsOf(spec: PortSpec): PortSettings {
  const out: PortSettings = {};
  if (spec.prefix !== undefined) out.prefix = spec.prefix;
  if (spec.label !== undefined) out.label = spec.label;
  return out;
}

function duplicate(spec: PortSpec): BerthError {
  return new BerthError('E_BAD_REQUEST', `${describeRef(spec)} is named twice in ports`, { hint: 'give each port once, with all its settings' });
}

/**
 * Resolves a create's port specs against the layout, before allocation. Throws E_UNKNOWN_PORT
 * (with the valid choices) or E_BAD_REQUEST (a port named twice). Returns the repo's
 * `portOptions(i, containerPort)`.
 */
export function createPortOptions(specs: readonly PortSpec[], layout: PortLayout): (i: number, containerPort: number) => { prefix?: PrefixMode; label?: string | null } {
  const byIndex = new Map<number, PortSettings>();
  for (const spec of specs) {
    const i = indexAtCreate(spec, layout);
    if (byIndex.has(i)) throw duplicate(spec);
    byIndex.set(i, settingsOf(spec));
  }
  return (i) => {
    const s = byIndex.get(i);
    return s ? { ...(s.prefix ? { prefix: s.prefix } : {}), ...(s.label !== undefined ? { label: s.label } : {}) } : {};
  };
}

/** The stored port a ref names, or E_UNKNOWN_PORT listing the workspace's ports. */
export function findPort(ws: Pick<Workspace, 'name' | 'ports'>, ref: PortRef): Workspace['ports'][number] {
  const found =
    'index' in ref ? ws.ports[ref.index] : 'hostPort' in ref ? ws.ports.find((p) => p.hostPort === ref.hostPort) : ws.ports.find((p) => p.containerPort === ref.containerPort);
  if (found) return found;
  const list = ws.ports.map((p, i) => `#${i} ${p.containerPort}→${p.hostPort}`).join(', ');
  throw unknownPort(ref, ws.ports.length ? `"${ws.name}" has ${list} (see berth ws show ${ws.name})` : `"${ws.name}" has no ports`);
}

/** What an update changes: the host port of each named port and its new prefix mode. */
export interface PortPrefixChange {
  hostPort: number;
  containerPort: number;
  prefix: PrefixMode;
}

/**
 * Resolves an update's port specs against the workspace (every spec is checked before anything
 * is written, so a bad one changes nothing). Only the prefix mode can change after create.
 */
export function resolvePortChanges(ws: Pick<Workspace, 'name' | 'ports'>, specs: readonly PortSpec[]): PortPrefixChange[] {
  const seen = new Set<number>();
  const out: PortPrefixChange[] = [];
  for (const spec of specs) {
    const port = findPort(ws, spec);
    if (seen.has(port.hostPort)) throw duplicate(spec);
    seen.add(port.hostPort);
    if (spec.label !== undefined) {
      throw new BerthError('E_BAD_REQUEST', 'a port label is set at create only', { hint: 'send only prefix ("strip" or "keep") for an existing port' });
    }
    if (spec.prefix === undefined) {
      throw new BerthError('E_BAD_REQUEST', `no change given for ${describeRef(spec)}`, { hint: 'send prefix: "strip" or "keep"' });
    }
    out.push({ hostPort: port.hostPort, containerPort: port.containerPort, prefix: spec.prefix });
  }
  return out;
}
