/**
 * `berth ws recreate NAME [--image IMG]`: the workspace's workload is replaced by a new one built
 * from the same record (workspace-spec.ts) — same id, ports, env, network and data volume — with
 * the new image if one is given. Files under the data path survive; everything else in the old
 * container's filesystem is gone, which is the point (a new image, a clean environment).
 *
 * Steps, each reported to `progress`: stop the old workload (gracefully, so programs flush their
 * files to the volume), remove it, create the new one, start it. The record is marked `failed`
 * with "recreate in progress" before anything is removed: if Berth stops half-way, the record says
 * what happened and how to finish it, and the reconciler neither restarts nor sweeps anything.
 *
 * Failure rule: the data volume is never removed here. A step that fails leaves the record
 * `failed` with the reason and the command that retries it; a new workload that was created but
 * did not start is removed, so the record's image stays the one that last ran, and a retry begins
 * from a clean state. Workloads left by an earlier, interrupted recreate (same id label, not the
 * recorded ref) are removed first, so a retry never trips over the engine name.
 */
import { imageRefProblem } from '../domain/image-ref.js';
import type { Workspace } from '../domain/workspace.js';
import { BerthError, isBerthError } from '../errors.js';
import { ownNetwork, workspaceNetworkName } from '../runtime/networks.js';
import { LABEL_ID, LABEL_KIND } from '../runtime/runtime.js';
import type { WorkspaceServiceDeps } from './workspaces.js';
import { workloadSpec } from './workspace-spec.js';

/** One progress line of a recreate (streamed as NDJSON by the API). */
export interface RecreateProgress {
  workspace: string;
  step: 'stopping' | 'removing' | 'creating' | 'starting';
  message?: string;
}

/** What a recreate asks for: a new image, or the recorded one. */
export interface RecreateOptions {
  image?: string | undefined;
}

/** The reason recorded while a recreate runs (and left behind if Berth stops half-way). */
export const recreatingReason = (ws: Workspace, image: string): string =>
  `recreate with image ${image} in progress; if Berth stopped meanwhile, run \`berth ws recreate ${ws.name}${image !== ws.image ? ` --image ${image}` : ''}\` again (the data volume is kept)`;

/** Throws (before anything is touched) when `ws` cannot be recreated with `image`. */
export function checkRecreatable(ws: Workspace, image: string): void {
  const imageProblem = imageRefProblem(image);
  if (imageProblem) throw new BerthError('E_BAD_REQUEST', `invalid image: ${imageProblem}`, { hint: 'give an image reference like docker.io/library/debian:bookworm-slim' });
  if (ws.deleting) throw new BerthError('E_INVALID_STATE', `workspace "${ws.name}" is being deleted`);
  if (ws.state === 'creating') throw new BerthError('E_INVALID_STATE', `workspace "${ws.name}" is still being created`, { hint: 'wait until it runs, then recreate it' });
  if (!ws.dataVolume || !ws.dataPath) {
    throw new BerthError('E_NO_DATA_VOLUME', `workspace "${ws.name}" has no data volume: a recreate would lose every file in it`, {
      hint: `copy what you need out (berth ws shell ${ws.name}), then remove it and create it again: new workspaces get a data volume at /workspace`,
    });
  }
}

/**
 * Why a workspace without a workload cannot be started or stopped: still being created, or (state
 * `failed`) a recreate that did not finish.
 */
export function noWorkloadError(ws: Workspace): BerthError {
  if (ws.state !== 'failed') return new BerthError('E_INVALID_STATE', `workspace "${ws.name}" is still being created`);
  return new BerthError('E_INVALID_STATE', `workspace "${ws.name}" has no workload: a recreate did not finish${ws.reason ? ` (${ws.reason})` : ''}`, {
    hint: `create its workload again with \`berth ws recreate ${ws.name}\` (the data volume is kept)`,
  });
}

/**
 * Replaces `ws`'s workload; see the module comment. The caller holds the workspace's in-flight
 * mark and emits `changed` through `changed` after every record update.
 */
export async function recreateWorkload(
  deps: WorkspaceServiceDeps,
  ws: Workspace,
  opts: RecreateOptions,
  progress: (p: RecreateProgress) => void,
  changed: () => void,
): Promise<Workspace> {
  const { repo, runtime, config } = deps;
  const image = opts.image ?? ws.image;
  checkRecreatable(ws, image);
  const log = deps.log.child({ workspaceId: ws.id, name: ws.name });
  const step = (s: RecreateProgress['step'], message?: string): void => progress({ workspace: ws.name, step: s, ...(message ? { message } : {}) });
  const retry = `berth ws recreate ${ws.name}${image !== ws.image ? ` --image ${image}` : ''}`;
  let ref = ws.runtimeRef;
  if (ref) {
    step('stopping', `stopping ${ws.image}`);
    // Nothing is changed yet: a failure here leaves the workspace as it was.
    await runtime.stop(ref).catch((err: unknown) => {
      throw new BerthError('E_RUNTIME', `recreate failed while stopping the old workload: ${err instanceof Error ? err.message : String(err)}`, { hint: `nothing was changed; retry with \`${retry}\``, cause: err });
    });
  }
  let phase = 'removing the old workload';
  try {
    repo.update(ws.id, { state: 'failed', reason: recreatingReason(ws, image), nextRestartAt: null });
    changed();

    step('removing', `removing the old workload; the data volume ${ws.dataVolume} stays`);
    const leftovers = (await runtime.list({ [LABEL_KIND]: 'workspace', [LABEL_ID]: ws.id })).map((w) => w.ref);
    for (const r of new Set([...(ref ? [ref] : []), ...leftovers])) await runtime.remove(r);
    ref = null;
    repo.update(ws.id, { runtimeRef: null });

    phase = `creating the workload from ${image}`;
    step('creating', `creating from ${image} with ${ws.dataVolume} at ${ws.dataPath}`);
    // The old workload's /llm/ credential went with its env; a new one is issued (the old is revoked).
    const llmToken = config.llmBaseUrl ? deps.llmTokens.issue(ws.id) : undefined;
    const network = await ownNetwork(runtime, workspaceNetworkName(deps.installation, ws.id), { kind: 'workspace', id: ws.id });
    const spec = workloadSpec({ ...ws, image }, { config, berthUrlHelper: deps.berthUrlHelper, installation: deps.installation, network, llmToken });
    ref = await runtime.create(spec);
    repo.update(ws.id, { runtimeRef: ref });

    phase = `starting the workload from ${image}`;
    step('starting');
    await runtime.start(ref);
    const status = await runtime.inspect(ref);
    const running = repo.update(ws.id, {
      state: 'running',
      image,
      reason: null,
      exitCode: null,
      upstreamHost: status.upstreamHost,
      restartCount: 0,
      nextRestartAt: null,
    });
    log.info({ image, previous: ws.image }, 'workspace recreated');
    changed();
    return running;
  } catch (err) {
    const words = err instanceof Error ? err.message : String(err);
    // A new workload that did not start goes again: the record keeps the image that last ran.
    if (ref && ref !== ws.runtimeRef) {
      await runtime.remove(ref).then(
        () => (ref = null),
        (e: unknown) => log.warn({ err: e }, 'recreate cleanup: remove of the new workload failed'),
      );
    }
    const reason = `recreate failed while ${phase}: ${words}. The data volume ${ws.dataVolume} is kept; retry with \`${retry}\``;
    repo.update(ws.id, { state: 'failed', reason, runtimeRef: ref, nextRestartAt: null });
    log.warn({ err, image }, 'workspace recreate failed');
    changed();
    // Engine failures (a missing image is the engine's "not found", not the workspace's) are E_RUNTIME.
    const code = isBerthError(err) && err.code === 'E_BAD_REQUEST' ? 'E_BAD_REQUEST' : 'E_RUNTIME';
    throw new BerthError(code, reason, { hint: `fix the cause, then run: ${retry}`, cause: err });
  }
}
