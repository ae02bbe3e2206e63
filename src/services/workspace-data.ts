/**
 * A workspace's persistent data: one runtime volume (an engine volume on podman/docker, a host
 * directory on the process runtime) mounted at the workspace's data path (default `/workspace`,
 * BERTH_WORKSPACE_DATA_PATH, or `dataPath` at create). The volume is named after the workspace id
 * and the installation, so it is the same volume at every (re)create of the workload: it survives
 * stop/start, a daemon restart and `ws recreate`; `ws rm` deletes it unless asked to keep it.
 *
 * Records made before data volumes (dataVolume null) keep working without one.
 */
import type { BerthConfig } from '../config/schema.js';
import { DATA_PATH_HINT, dataPathProblem } from '../domain/data-path.js';
import type { Workspace } from '../domain/workspace.js';
import { BerthError } from '../errors.js';
import type { Logger } from '../log.js';
import { scopedName } from '../runtime/installation.js';
import type { Runtime } from '../runtime/runtime.js';
import type { WorkspacesRepo } from '../store/workspaces-repo.js';

/** Engine-visible name of a workspace's data volume: `berth-<installation tag>-ws-<id>-data`. */
export const workspaceVolumeName = (id: string, installation?: string): string => scopedName(installation, 'ws', id, 'data');

/** Whether the record's data volume is the one made for it (not a kept volume of another workspace it mounts again). */
export const isOwnDataVolume = (ws: Pick<Workspace, 'id' | 'dataVolume'>): boolean => !!ws.dataVolume && ws.dataVolume.endsWith(`-ws-${ws.id}-data`);

/** What a create asks for: a data path, or null for no volume; absent: the server's default. */
export interface DataRequest {
  dataPath?: string | null | undefined;
}

/**
 * The data volume and path a new workspace `id` gets: a new volume named after it, or `reused`
 * (a kept volume the caller claimed, see VolumeService.claim); nulls when it asked for none (or
 * the runtime cannot keep volumes). Throws E_BAD_DATA_PATH for a path that is not a safe directory,
 * and E_INVALID_STATE when a reused volume is taken by another record meanwhile.
 */
export function dataFor(
  id: string,
  req: DataRequest,
  deps: { config: BerthConfig; runtime: Runtime; repo: WorkspacesRepo; installation?: string | undefined },
  reused: string | null = null,
): { dataVolume: string | null; dataPath: string | null } {
  if (req.dataPath === null) {
    if (reused) throw new BerthError('E_BAD_REQUEST', 'a data volume to mount needs a data path, not null', { hint: 'leave out dataPath (or --no-data) to mount the volume at the default path' });
    return { dataVolume: null, dataPath: null };
  }
  if (!deps.runtime.removeVolume) return { dataVolume: null, dataPath: null };
  const dataPath = req.dataPath ?? deps.config.workspaceDataPath;
  checkDataPath(dataPath);
  if (!reused) return { dataVolume: workspaceVolumeName(id, deps.installation), dataPath };
  // Checked again in the same tick as the insert that follows: two creates may have claimed it at once.
  const user = deps.repo.list().find((w) => w.dataVolume === reused);
  if (user) throw new BerthError('E_INVALID_STATE', `volume ${reused} is in use by workspace "${user.name}"`, { hint: 'remove that workspace with --keep-data first' });
  return { dataVolume: reused, dataPath };
}

/** Throws E_BAD_DATA_PATH (with what to give instead) unless `p` is a safe data path. */
export function checkDataPath(p: unknown): asserts p is string {
  const problem = dataPathProblem(p);
  if (problem) throw new BerthError('E_BAD_DATA_PATH', problem, { hint: DATA_PATH_HINT });
}

/**
 * Deletes the workspace's data volume after its workload is gone. Resolves to the volume's name
 * when it is still there (the engine refused): the caller reports it, `berth volume rm` removes it.
 */
export async function dropDataVolume(runtime: Runtime, ws: Pick<Workspace, 'id' | 'dataVolume'>, log: Logger): Promise<string | null> {
  if (!ws.dataVolume || !runtime.removeVolume) return null;
  try {
    await runtime.removeVolume(ws.dataVolume);
    return null;
  } catch (err) {
    log.warn({ err, workspaceId: ws.id, volume: ws.dataVolume }, 'workspace data volume remove failed; `berth volume rm` removes it');
    return ws.dataVolume;
  }
}
