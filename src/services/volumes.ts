/**
 * `berth volume ls|rm`: this installation's runtime volumes — workspace data volumes (in use, or
 * kept by `ws rm --keep-data`), catalog apps' volumes, Berth's own — with their size on disk and
 * what uses them. A kept workspace volume can be removed here or mounted again by a new workspace
 * (`ws create --data-volume NAME`, see `claim`).
 *
 * Who sees what: admins every volume; members the workspace volumes they own (the record's owner,
 * or for a kept volume the owner label its workload gave it). Others' volumes are "not found".
 */
import { isAdmin, type Principal } from './auth.js';
import { BerthError } from '../errors.js';
import type { Workspace } from '../domain/workspace.js';
import { LABEL_ID, LABEL_KIND, LABEL_OWNER, VOLUME_NAME_RE, type Runtime, type VolumeSummary } from '../runtime/runtime.js';
import type { WorkspacesRepo } from '../store/workspaces-repo.js';

/** Who asks (a principal, or just its user id and role); null: Berth itself, which may touch every volume. */
export type VolumeActor = Pick<Principal, 'role' | 'scopes' | 'userId'> | null;

/** A volume as the API presents it. */
export interface VolumeView {
  name: string;
  /** Bytes on disk; null when the runtime cannot tell. */
  sizeBytes: number | null;
  /** What made it: `workspace`, `app`, … (the workload's kind label). */
  kind: string;
  /** The workspace (by name) or app whose data it holds now; null when none does (kept). */
  usedBy: string | null;
  /** The name of the workspace or app that made it (for a kept volume: what it was). */
  madeBy: string | null;
  /** Owner user id: the record's owner, else the owner label. */
  ownerId: string | null;
}

export interface VolumeServiceDeps {
  runtime: Runtime;
  repo: WorkspacesRepo;
}

/** Lists, removes and hands out (for reuse) this installation's volumes; see the module comment. */
export class VolumeService {
  constructor(private readonly deps: VolumeServiceDeps) {}

  /** Whether the runtime keeps volumes at all (every driver that mounts or emulates them). */
  get supported(): boolean {
    return !!this.deps.runtime.listVolumes && !!this.deps.runtime.removeVolume;
  }

  /** The volumes `by` may see, sorted by name. */
  async list(by: VolumeActor): Promise<VolumeView[]> {
    if (!this.deps.runtime.listVolumes) return [];
    const byVolume = new Map<string, Workspace>();
    for (const ws of this.deps.repo.list()) if (ws.dataVolume) byVolume.set(ws.dataVolume, ws);
    const all = await this.deps.runtime.listVolumes({});
    return all
      .filter((v) => v.labels[LABEL_KIND] !== undefined)
      .map((v) => present(v, byVolume.get(v.name)))
      .filter((v) => mayTouch(by, v))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One volume `by` may see; E_NOT_FOUND otherwise. */
  async get(name: string, by: VolumeActor): Promise<VolumeView> {
    if (!VOLUME_NAME_RE.test(name)) {
      throw new BerthError('E_BAD_REQUEST', `invalid volume name ${JSON.stringify(name)}`, { hint: 'copy the name from `berth volume ls`' });
    }
    const v = (await this.list(by)).find((x) => x.name === name);
    if (!v) throw new BerthError('E_NOT_FOUND', `volume "${name}" not found`, { hint: 'list volumes with `berth volume ls`' });
    return v;
  }

  /**
   * Deletes a volume nothing uses. A workspace's volume in use is refused (it goes with
   * `ws rm`); the runtime itself refuses while any workload mounts it.
   */
  async remove(name: string, by: VolumeActor): Promise<VolumeView> {
    const v = await this.get(name, by);
    if (v.kind === 'workspace' && v.usedBy) {
      throw new BerthError('E_INVALID_STATE', `volume ${name} holds the data of workspace "${v.usedBy}"`, {
        hint: `remove the workspace with \`berth ws rm ${v.usedBy}\` (it removes the volume unless --keep-data)`,
      });
    }
    if (!this.deps.runtime.removeVolume) throw new BerthError('E_RUNTIME', `the ${this.deps.runtime.name} runtime cannot remove volumes`);
    await this.deps.runtime.removeVolume(name);
    return v;
  }

  /**
   * Checks that a new workspace of `by` may mount `name`: a kept workspace volume (no record uses
   * it) that `by` may see. Resolves to its name.
   */
  async claim(name: string, by: VolumeActor): Promise<string> {
    const v = await this.get(name, by);
    if (v.kind !== 'workspace') {
      throw new BerthError('E_INVALID_STATE', `volume ${name} belongs to ${v.kind} ${v.madeBy ?? '?'}, not to a workspace`, { hint: 'reuse a volume kept by `berth ws rm --keep-data`' });
    }
    if (v.usedBy) throw new BerthError('E_INVALID_STATE', `volume ${name} is in use by workspace "${v.usedBy}"`, { hint: 'remove that workspace with --keep-data first' });
    return v.name;
  }
}

function present(v: VolumeSummary, ws: Workspace | undefined): VolumeView {
  const kind = v.labels[LABEL_KIND] ?? 'unknown';
  return {
    name: v.name,
    sizeBytes: v.sizeBytes,
    kind,
    // App volumes are in use while the app is installed; the runtime refuses their removal then.
    usedBy: ws ? ws.name : null,
    madeBy: v.labels['berth.name'] ?? v.labels[LABEL_ID] ?? null,
    ownerId: ws ? ws.ownerId : (v.labels[LABEL_OWNER] ?? null),
  };
}

function mayTouch(by: VolumeActor, v: VolumeView): boolean {
  if (!by || isAdmin(by)) return true;
  return v.kind === 'workspace' && v.ownerId !== null && v.ownerId === by.userId;
}
