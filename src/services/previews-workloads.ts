/**
 * A preview's workloads on the engine, one generation at a time: how its workloads, images and
 * network are named and labelled (deterministically, so an id and a generation find them without a
 * record), starting a generation's services and waiting until they are healthy, retiring an old
 * generation after the drain delay, and the best-effort removal of workloads, images and the
 * network. PreviewService decides when (build, flip, destroy); this module does the engine work.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BerthConfig } from '../config/schema.js';
import { BerthError, isBerthError } from '../errors.js';
import type { Logger } from '../log.js';
import { BuildLog, waitHealthy, writeEnvFile } from '../previews/build.js';
import type { PreviewConfig } from '../previews/config.schema.js';
import { createFresh } from '../previews/preview-postgres.js';
import { logTail } from '../runtime/log-tail.js';
import { networkOps } from '../runtime/networks.js';
import { LABEL_ID, LABEL_KIND, type Runtime } from '../runtime/runtime.js';
import type { PreviewRecord, PreviewServiceRecord, PreviewsRepo } from '../store/previews-repo.js';
import { previewDir } from './previews-reaper.js';

/** Label of the generation a preview workload belongs to. */
export const LABEL_GENERATION = 'berth.generation';
/** Engine name of one service of one generation. */
export const previewWorkloadName = (id: string, generation: number, service: string): string => `berth-pv-${id}-g${generation}-${service}`;
/**
 * The network of one preview (runtimes with `capabilities.networks`): made before the first
 * workload of a build, joined by the database server (alias `postgres`) and by every service of
 * every generation (alias: its service name), removed by destroy after them. Services find each
 * other by name there, and other previews' networks cannot reach it. During an update the old and
 * the new generation share it until the old one is retired, so for that window a service name
 * answers from either generation. Published ports stay on 127.0.0.1 for the edge.
 */
export const previewNetworkName = (id: string): string => `berth-pv-${id}`;
/** Tag of the image built for one service of one generation. */
export const previewImageTag = (id: string, generation: number, service: string): string => `localhost/berth-preview-${id}:g${generation}-${service}`;

/**
 * Makes the preview's network when missing; null on runtimes without networks. `created`: this
 * call made it (a failed build removes only a network it made).
 */
export async function ensurePreviewNetwork(runtime: Runtime, id: string): Promise<{ name: string; created: boolean } | null> {
  const net = networkOps(runtime);
  if (!net) return null;
  const name = previewNetworkName(id);
  return { name, created: await net.createNetwork(name, { [LABEL_KIND]: 'preview', [LABEL_ID]: id }) };
}

/**
 * Removes the preview's network (a no-op when it is gone or the runtime has none). Never throws:
 * one still in use (E_INVALID_STATE) is kept — quietly after a failed build, whose preview's
 * database server may hold it, with a warning on destroy — and so is one the engine refuses.
 */
export async function removePreviewNetwork(runtime: Runtime, id: string, log: Logger, opts: { whileUsed: 'keep' | 'warn' }): Promise<void> {
  const net = networkOps(runtime);
  if (!net) return;
  try {
    await net.removeNetwork(previewNetworkName(id));
  } catch (err) {
    const used = isBerthError(err) && err.code === 'E_INVALID_STATE';
    if (used && opts.whileUsed === 'keep') log.debug({ network: previewNetworkName(id) }, 'preview network kept: still in use');
    else log.warn({ err, network: previewNetworkName(id) }, 'could not remove the preview network');
  }
}

/** Removes workloads one by one; never throws (a failure is logged, the rest still go). */
export async function removePreviewWorkloads(runtime: Runtime, list: readonly { ref: string }[], log: Logger): Promise<void> {
  for (const w of list) {
    await runtime.remove(w.ref).catch((err: unknown) => log.warn({ err, ref: w.ref }, 'could not remove preview workload'));
  }
}

/**
 * Images `build` made for a generation (tags are deterministic, so no record is needed). A no-op
 * on runtimes that cannot remove images; never throws.
 */
export async function removePreviewImages(runtime: Runtime, id: string, generation: number, services: string[], log: Logger): Promise<void> {
  if (!runtime.removeImage) return;
  for (const svc of services) {
    await runtime.removeImage(previewImageTag(id, generation, svc)).catch((err: unknown) => log.warn({ err }, 'could not remove preview image'));
  }
}

/** What starting and retiring a generation needs (PreviewServiceDeps fits). */
export interface GenerationDeps {
  config: BerthConfig;
  repo: PreviewsRepo;
  runtime: Runtime;
}

/**
 * Starts every service of `generation` from the checkout: allocates its host ports, writes the env
 * files, builds images where the runtime can, creates and starts the workloads on the preview's
 * network, then waits for each to be healthy (a failure puts the service's output tail in the
 * build log). Each workload is pushed to `made` as soon as it exists, so on a throw the caller
 * removes exactly what this made. Returns copies of the records for the flip.
 */
export async function startGeneration(
  deps: GenerationDeps,
  p: PreviewRecord,
  generation: number,
  cfg: PreviewConfig,
  checkout: string,
  base: Record<string, string>,
  log: BuildLog,
  made: PreviewServiceRecord[],
  network: string | null,
  signal: AbortSignal,
): Promise<PreviewServiceRecord[]> {
  const { runtime, config } = deps;
  const mapped = runtime.capabilities.portMapping;
  const ported = cfg.services.filter((s) => s.port !== null);
  const ports = deps.repo.allocatePorts(p.id, generation, ported.length, { start: config.portRangeStart, end: config.portRangeEnd });
  if (ports.length < ported.length) throw new BerthError('E_PORTS_EXHAUSTED', `no ${ported.length} free host ports for the preview`);
  // Process workloads read it from the checkout (and get the same values in their env).
  await writeEnvFile(path.join(checkout, '.preview.env'), base);
  for (const svc of cfg.services) {
    signal.throwIfAborted();
    const hostPort = svc.port === null ? null : ports[ported.indexOf(svc)]!;
    const containerPort = svc.port === null ? null : mapped ? svc.port : hostPort;
    const env = { ...svc.env, ...base, ...(containerPort === null ? {} : { PORT: String(containerPort) }) };
    // Containers get theirs at /etc/preview.env, from outside the build context.
    const envFile = path.join(previewDir(config.dataDir, p.id), `g${generation}-${svc.name}.env`);
    await writeEnvFile(envFile, env);
    let image = svc.image ?? '';
    if (svc.build) {
      if (!runtime.build) {
        if (!svc.command) throw new BerthError('E_PREVIEW_BUILD', `service ${svc.name}: the ${runtime.name} runtime cannot build images; give a command`);
      } else {
        image = previewImageTag(p.id, generation, svc.name);
        await log.line(`building ${svc.name} → ${image}`);
        const context = path.join(checkout, svc.build.context);
        await log.raw(await runtime.build(context, svc.build.containerfile ? path.join(checkout, svc.build.containerfile) : 'Containerfile', image));
      }
    }
    if (!runtime.capabilities.images && !svc.command) {
      throw new BerthError('E_PREVIEW_BUILD', `service ${svc.name}: the ${runtime.name} runtime runs commands, not images; give a command`);
    }
    const name = previewWorkloadName(p.id, generation, svc.name);
    await log.line(`starting ${svc.name}${hostPort === null ? '' : ` on port ${hostPort}`}`);
    // The generation is not live, so its names are ours to take (see createFresh).
    const ref = await createFresh(runtime, {
      name,
      image,
      ...(svc.command ? { command: svc.command } : {}),
      env,
      ports: hostPort === null ? [] : [{ containerPort: containerPort!, hostPort }],
      labels: { [LABEL_KIND]: 'preview', [LABEL_ID]: p.id, [LABEL_GENERATION]: String(generation), 'berth.service': svc.name },
      ...(runtime.capabilities.isolation ? { files: [{ hostPath: envFile, containerPath: '/etc/preview.env' }] } : {}),
      workdir: path.join(checkout, svc.build?.context ?? '.'),
      ...(config.dnsServers.length ? { dnsServers: config.dnsServers } : {}),
      // The other services reach it by its name; the edge still dials the published port.
      ...(network ? { network: { name: network, aliases: [svc.name] } } : {}),
    });
    const record: PreviewServiceRecord = { name: svc.name, ref, hostPort, containerPort, upstreamHost: '127.0.0.1' };
    made.push(record);
    await runtime.start(ref);
    record.upstreamHost = (await runtime.inspect(ref)).upstreamHost;
  }
  for (const svc of cfg.services) {
    const rec = made.find((m) => m.name === svc.name)!;
    await log.line(`waiting for ${svc.name} to be healthy`);
    try {
      await waitHealthy(runtime, rec.ref, { host: rec.upstreamHost, port: rec.hostPort }, svc.healthcheck, signal);
    } catch (err) {
      const tail = (await logTail(runtime, rec.ref, 40)).slice(-8000);
      if (tail) await log.raw(`--- ${svc.name} output ---\n${tail}`);
      throw new BerthError('E_PREVIEW_BUILD', `service ${svc.name}: ${(err as Error).message}`, { cause: err });
    }
  }
  return made.map((m) => ({ ...m }));
}

/**
 * Removes an old generation after the drain delay (requests in flight finish): its workloads,
 * images, host ports and checkout. Never throws for a workload or image that will not go.
 */
export async function retireGeneration(deps: GenerationDeps, id: string, generation: number, services: PreviewServiceRecord[], log: Logger): Promise<void> {
  await sleep(Math.min(deps.config.drainSeconds, 30) * 1000);
  await removePreviewWorkloads(deps.runtime, services, log);
  await removePreviewImages(deps.runtime, id, generation, services.map((s) => s.name), log);
  deps.repo.releasePorts(id, generation);
  await rm(path.join(previewDir(deps.config.dataDir, id), `g${generation}`), { recursive: true, force: true }).catch(() => {});
  log.info({ generation }, 'old preview generation removed');
}
