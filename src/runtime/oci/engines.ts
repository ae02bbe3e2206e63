/**
 * The podman and docker drivers: each is the shared OCI CLI driver (oci-runtime.ts) with the
 * engine's profile — binary, CLI environment, JSON formats and the flags where the two differ.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RuntimeFactory } from '../runtime.js';
import { createOciRuntime } from './oci-runtime.js';

/** Options of the podman driver. */
export interface PodmanOptions {
  /** Binary, absolute or on PATH (default `podman`). */
  bin?: string;
  /** Environment for the CLI (default: the daemon's); CONTAINERS_CONF is always set on top. */
  env?: NodeJS.ProcessEnv;
}

/** Options of the docker driver. */
export interface DockerOptions {
  /** Binary, absolute or on PATH (default `docker`). */
  bin?: string;
  /** Environment for the CLI (default: the daemon's), e.g. DOCKER_HOST. */
  env?: NodeJS.ProcessEnv;
}

/**
 * What podman needs on this kind of host: crun fails on hybrid cgroups and runc refuses the
 * default rlimits, so runc with explicit ulimits (see DESIGN "Test and environment notes").
 */
export const PODMAN_CONTAINERS_CONF =
  '[containers]\ndefault_ulimits=["nofile=1024:1024","nproc=1024:1024"]\n[engine]\nruntime="runc"\n';

/** Where the podman driver writes its containers.conf for `dataDir`. */
export function podmanConfPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), 'containers.conf');
}

/** Podman driver; the CLI runs with `CONTAINERS_CONF=<dataDir>/containers.conf` (written on first use). */
export const createPodmanRuntime: RuntimeFactory<PodmanOptions> = (ctx, opts) => {
  const confPath = podmanConfPath(ctx.dataDir);
  let envReady: Promise<NodeJS.ProcessEnv> | undefined;
  return createOciRuntime(ctx, {
    name: 'podman',
    bin: opts.bin ?? 'podman',
    env: () =>
      (envReady ??= (async () => {
        await mkdir(path.dirname(confPath), { recursive: true });
        await writeFile(confPath, PODMAN_CONTAINERS_CONF);
        return { ...(opts.env ?? process.env), CONTAINERS_CONF: confPath };
      })()),
    psFormat: 'json',
    // netavark puts bridges apart only when asked: without `isolate`, a container of one network
    // reaches another network's containers by address (the host forwards between bridges). With it
    // (netavark 1.4 here), traffic between two isolated networks is dropped; the default `podman`
    // network is not isolated, so its containers can still reach these by address.
    networkCreateOptions: ['--opt', 'isolate=true'],
    // podman's `rm -f` first waits the stop timeout (10 s) for PID 1, which often ignores SIGTERM.
    forceRemoveFlags: ['-t', '0'],
    logsSplitStreams: false,
    volumeCreateRefusesExisting: true,
  });
};

/** Docker driver (Docker CLI against whatever daemon its environment points at). */
export const createDockerRuntime: RuntimeFactory<DockerOptions> = (ctx, opts) => {
  const env = opts.env ?? process.env;
  return createOciRuntime(ctx, {
    name: 'docker',
    bin: opts.bin ?? 'docker',
    env: async () => env,
    psFormat: '{{json .}}',
    // Docker keeps user-defined bridge networks apart from each other and from its default bridge.
    networkCreateOptions: [],
    // docker's `rm -f` already kills with SIGKILL.
    forceRemoveFlags: [],
    logsSplitStreams: true,
    volumeCreateRefusesExisting: false,
  });
};

