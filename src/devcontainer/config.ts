/**
 * `devcontainer.json` (the Development Containers specification, containers.dev) read into what
 * Berth does with it: the image or the Dockerfile build, environment, forwarded ports with their
 * labels and prefix modes, the lifecycle commands that run inside the workspace, the user and
 * the workspace folder. Pure: no I/O; the file's text comes in, a plan (or a coded error) goes out.
 *
 * Rules, because a repository's file is untrusted input:
 * - what would escape the workspace's isolation is refused, naming the property: `privileged`,
 *   `capAdd`, `securityOpt`, `runArgs`, `mounts`, `workspaceMount`, `initializeCommand` (it runs on
 *   the host), Docker Compose configurations; `features` are refused too (they need a registry and
 *   their install scripts run as root at build);
 * - everything else Berth does not apply is listed in `ignored`, so the create output names it
 *   instead of silently dropping it;
 * - `${localEnv:…}` would copy the daemon's environment (its secrets) into the workspace: it becomes
 *   empty and is listed;
 * - Dockerfile and build context stay inside the repository.
 */
import path from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { BerthError } from '../errors.js';
import { IMAGE_REF_HINT, imageRefIssue } from '../domain/image-ref.js';
import type { PrefixMode } from '../domain/workspace.js';

/** Where the specification looks for the file, in order (relative to the repository root). */
export const DEVCONTAINER_PATHS = ['.devcontainer/devcontainer.json', '.devcontainer.json'] as const;

/** A lifecycle command: a string runs through the container's `/bin/sh -c`; an array is an argv; an object runs its entries in parallel. */
export type LifecycleCommand = { shell: string } | { argv: string[] } | { parallel: Record<string, { shell: string } | { argv: string[] }> };

/** One forwarded port and how Berth serves it. */
export interface DevcontainerPort {
  port: number;
  label: string | null;
  prefix: PrefixMode;
}

/** What Berth does with a devcontainer.json. */
export interface DevcontainerPlan {
  name: string | null;
  /** Exactly one of image and build is set. */
  image: string | null;
  build: { dockerfile: string; context: string; args: Record<string, string>; target: string | null } | null;
  /** Set on the workload (containerEnv) and for Berth's commands and shells in it (remoteEnv). */
  containerEnv: Record<string, string>;
  remoteEnv: Record<string, string>;
  ports: DevcontainerPort[];
  /** In the order the specification runs them after the container is created. */
  onCreateCommand: LifecycleCommand | null;
  updateContentCommand: LifecycleCommand | null;
  postCreateCommand: LifecycleCommand | null;
  /** Runs at every start. */
  postStartCommand: LifecycleCommand | null;
  remoteUser: string | null;
  containerUser: string | null;
  /** Absolute path of the repository inside the workspace. */
  workspaceFolder: string;
  /** false: keep the image's own command (the default replaces it with a long sleep, so the container stays up). */
  overrideCommand: boolean;
  /** Properties present and not applied, each with why (shown in the create output). */
  ignored: string[];
}

/** Properties applied below. */
const APPLIED = new Set([
  '$schema', 'name', 'image', 'build', 'dockerFile', 'context', 'containerEnv', 'remoteEnv', 'forwardPorts', 'portsAttributes',
  'onCreateCommand', 'updateContentCommand', 'postCreateCommand', 'postStartCommand', 'remoteUser', 'containerUser',
  'workspaceFolder', 'overrideCommand', 'customizations',
]);
/** Properties refused: each would let the repository reach past its workspace. */
const REFUSED: Record<string, string> = {
  privileged: 'a privileged container controls the host',
  capAdd: 'added capabilities widen what the container may do to the host',
  securityOpt: 'security options can disable the confinement of the container',
  runArgs: 'engine arguments can mount the host, join its network or grant privileges',
  mounts: 'mounts can expose host paths',
  workspaceMount: 'mounts can expose host paths',
  initializeCommand: 'it runs on the host, not in the workspace',
  dockerComposeFile: 'Docker Compose dev containers are not supported yet',
  features: 'Features are not supported: they install from an image registry and run their scripts as root at build',
};

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function bad(message: string, hint: string): BerthError {
  return new BerthError('E_DEVCONTAINER', message, { hint });
}

/**
 * Reads a devcontainer.json. `file` is its path relative to the repository root (one of
 * DEVCONTAINER_PATHS, or another the user named); `repoName` names the default workspace folder
 * (`/workspaces/<repoName>`, as the specification's reference implementation does).
 */
export function parseDevcontainer(text: string, file: string, repoName: string): DevcontainerPlan {
  const errors: ParseError[] = [];
  const raw: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const e = errors[0]!;
    const line = text.slice(0, e.offset).split('\n').length;
    throw bad(`${file}: ${printParseErrorCode(e.error)} at line ${line}`, 'devcontainer.json is JSON with comments; fix the syntax at that line');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(`${file}: the file is not a JSON object`, 'a devcontainer.json is an object like {"image": "debian:12"}');
  const o = raw as Record<string, unknown>;

  for (const [key, why] of Object.entries(REFUSED)) {
    if (o[key] === undefined || (key === 'features' && isEmptyObject(o[key])) || (key === 'privileged' && o[key] === false)) continue;
    throw bad(`${file}: "${key}" is refused: ${why}`, `remove "${key}" from ${file} (install tools in the Dockerfile instead), then create the workspace again`);
  }

  const ignored: string[] = [];
  for (const key of Object.keys(o)) if (!APPLIED.has(key) && !(key in REFUSED)) ignored.push(`${key}: not supported by Berth`);

  const workspaceFolder = optString(o, 'workspaceFolder', file) ?? `/workspaces/${repoName}`;
  if (!path.posix.isAbsolute(workspaceFolder) || workspaceFolder.split('/').includes('..') || workspaceFolder === '/') {
    throw bad(`${file}: workspaceFolder ${JSON.stringify(workspaceFolder)} must be an absolute path other than "/" without ".."`, 'use e.g. "/workspaces/project"');
  }
  const vars = substitutions(workspaceFolder, repoName, ignored);

  const { image, build } = imageOrBuild(o, file, vars);
  const containerEnv = envObject(o, 'containerEnv', file, vars);
  const remoteEnv = envObject(o, 'remoteEnv', file, vars);
  const prefixes = berthPrefixes(o, file);
  const ports = forwardedPorts(o, file, prefixes, ignored);
  const overrideCommand = o.overrideCommand === undefined ? true : o.overrideCommand === true;
  if (o.overrideCommand !== undefined && typeof o.overrideCommand !== 'boolean') throw bad(`${file}: overrideCommand must be true or false`, 'set "overrideCommand": false to keep the image\'s own command');

  return {
    name: optString(o, 'name', file),
    image,
    build,
    containerEnv,
    remoteEnv,
    ports,
    onCreateCommand: lifecycle(o, 'onCreateCommand', file, vars),
    updateContentCommand: lifecycle(o, 'updateContentCommand', file, vars),
    postCreateCommand: lifecycle(o, 'postCreateCommand', file, vars),
    postStartCommand: lifecycle(o, 'postStartCommand', file, vars),
    remoteUser: userName(o, 'remoteUser', file),
    containerUser: userName(o, 'containerUser', file),
    workspaceFolder,
    overrideCommand,
    ignored,
  };
}

function isEmptyObject(v: unknown): boolean {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;
}

function optString(o: Record<string, unknown>, key: string, file: string): string | null {
  const v = o[key];
  if (v === undefined) return null;
  if (typeof v !== 'string') throw bad(`${file}: "${key}" must be a string`, `give "${key}" as a string`);
  return v;
}

/** Replaces the specification's `${…}` variables Berth can answer; `${localEnv:…}` becomes empty (never the daemon's env). */
function substitutions(workspaceFolder: string, repoName: string, ignored: string[]): (s: string) => string {
  const known: Record<string, string> = {
    containerWorkspaceFolder: workspaceFolder,
    containerWorkspaceFolderBasename: path.posix.basename(workspaceFolder),
    localWorkspaceFolderBasename: repoName,
  };
  let warned = false;
  return (s) =>
    s.replace(/\$\{([A-Za-z]+)(?::([^}]*))?\}/g, (whole, name: string) => {
      if (name in known) return known[name]!;
      if (name === 'localEnv' || name === 'env' || name === 'localWorkspaceFolder') {
        if (!warned) ignored.push('${localEnv:…} / ${localWorkspaceFolder}: the host\'s environment and paths are not passed into workspaces (replaced by "")');
        warned = true;
        return '';
      }
      // ${containerEnv:X} is resolved by the shell in the container; anything else stays as written.
      return whole;
    });
}

function imageOrBuild(o: Record<string, unknown>, file: string, vars: (s: string) => string): Pick<DevcontainerPlan, 'image' | 'build'> {
  const dir = path.posix.dirname(file);
  const build = o.build as Record<string, unknown> | undefined;
  const dockerfile = (build && typeof build === 'object' ? build.dockerfile ?? build.dockerFile : undefined) ?? o.dockerFile;
  if (o.image !== undefined && dockerfile !== undefined) throw bad(`${file}: both "image" and a Dockerfile are given`, 'keep one of "image" and "build.dockerfile"');
  if (o.image !== undefined) {
    if (typeof o.image !== 'string') throw bad(`${file}: "image" must be a string`, IMAGE_REF_HINT);
    const image = vars(o.image);
    const issue = imageRefIssue(image);
    if (issue) throw bad(`${file}: image ${JSON.stringify(image)}: ${issue}`, IMAGE_REF_HINT);
    return { image, build: null };
  }
  if (typeof dockerfile !== 'string' || dockerfile === '') {
    throw bad(`${file}: neither "image" nor "build.dockerfile" is given`, 'add "image": "debian:12" or "build": {"dockerfile": "Dockerfile"}');
  }
  const contextRaw = (build && typeof build === 'object' ? build.context : undefined) ?? o.context ?? '.';
  if (typeof contextRaw !== 'string') throw bad(`${file}: build.context must be a string`, 'a path relative to the devcontainer.json, e.g. ".."');
  const args: Record<string, string> = {};
  const rawArgs = build && typeof build === 'object' ? build.args : undefined;
  if (rawArgs !== undefined) {
    if (!rawArgs || typeof rawArgs !== 'object' || Array.isArray(rawArgs)) throw bad(`${file}: build.args must be an object of strings`, 'e.g. "args": {"VARIANT": "bookworm"}');
    for (const [k, v] of Object.entries(rawArgs)) {
      if (!ENV_NAME_RE.test(k) || typeof v !== 'string') throw bad(`${file}: build.args.${k} must be a string under a name of letters, digits and _`, 'e.g. "args": {"VARIANT": "bookworm"}');
      args[k] = vars(v);
    }
  }
  const target = build && typeof build === 'object' && build.target !== undefined ? build.target : null;
  if (target !== null && (typeof target !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(target))) {
    throw bad(`${file}: build.target must be a stage name`, 'name a stage of the Dockerfile: letters, digits, ".", "_" and "-"');
  }
  return { image: null, build: { dockerfile: inRepo(dir, vars(dockerfile), file, 'build.dockerfile'), context: inRepo(dir, vars(contextRaw), file, 'build.context'), args, target } };
}

/** A path relative to the devcontainer.json's folder, resolved against the repository root; refused when it leaves it. */
function inRepo(dir: string, p: string, file: string, key: string): string {
  const resolved = path.posix.normalize(path.posix.join(dir, p));
  if (path.posix.isAbsolute(p) || resolved === '..' || resolved.startsWith('../')) {
    throw bad(`${file}: ${key} ${JSON.stringify(p)} points outside the repository`, `give ${key} relative to ${file}, inside the repository`);
  }
  return resolved === '' ? '.' : resolved;
}

function envObject(o: Record<string, unknown>, key: string, file: string, vars: (s: string) => string): Record<string, string> {
  const v = o[key];
  if (v === undefined) return {};
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(`${file}: "${key}" must be an object of strings`, `e.g. "${key}": {"NODE_ENV": "development"}`);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v)) {
    if (!ENV_NAME_RE.test(name)) throw bad(`${file}: ${key}.${name}: env names are letters, digits and _`, 'name variables like DATABASE_URL');
    if (value === null) continue; // remoteEnv: null unsets a variable
    if (typeof value !== 'string' || value.includes('\0')) throw bad(`${file}: ${key}.${name} must be a string`, `give ${key}.${name} as a string`);
    out[name] = vars(value);
  }
  return out;
}

/** `customizations.berth.prefix`: `{"8888": "keep"}` — the Berth-specific part of portsAttributes. */
function berthPrefixes(o: Record<string, unknown>, file: string): Map<number, PrefixMode> {
  const out = new Map<number, PrefixMode>();
  const berth = (o.customizations as Record<string, unknown> | undefined)?.berth as Record<string, unknown> | undefined;
  const prefix = berth?.prefix;
  if (prefix === undefined) return out;
  if (!prefix || typeof prefix !== 'object' || Array.isArray(prefix)) throw bad(`${file}: customizations.berth.prefix must map ports to "keep" or "strip"`, 'e.g. "customizations": {"berth": {"prefix": {"8888": "keep"}}}');
  for (const [port, mode] of Object.entries(prefix)) {
    const n = portNumber(port);
    if (n === null || (mode !== 'keep' && mode !== 'strip')) throw bad(`${file}: customizations.berth.prefix.${port} must be "keep" or "strip" for a port number`, 'e.g. "customizations": {"berth": {"prefix": {"8888": "keep"}}}');
    out.set(n, mode);
  }
  return out;
}

function portNumber(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
}

function forwardedPorts(o: Record<string, unknown>, file: string, prefixes: Map<number, PrefixMode>, ignored: string[]): DevcontainerPort[] {
  const list = o.forwardPorts ?? [];
  if (!Array.isArray(list)) throw bad(`${file}: forwardPorts must be an array`, 'e.g. "forwardPorts": [3000, 8888]');
  const attrs = (o.portsAttributes ?? {}) as Record<string, unknown>;
  const seen = new Set<number>();
  const ports: DevcontainerPort[] = [];
  for (const item of list) {
    const port = portNumber(item);
    if (port === null) {
      if (typeof item === 'string' && /^[a-z0-9_-]+:\d{1,5}$/.test(item)) ignored.push(`forwardPorts ${item}: ports of other containers (Docker Compose) are not forwarded`);
      else throw bad(`${file}: forwardPorts entry ${JSON.stringify(item)} is not a port number`, 'give port numbers 1-65535, e.g. [3000, 8888]');
      continue;
    }
    if (seen.has(port)) continue;
    seen.add(port);
    const a = attrs[String(port)] as Record<string, unknown> | undefined;
    const label = a && typeof a.label === 'string' ? a.label.slice(0, 100) : null;
    ports.push({ port, label, prefix: prefixes.get(port) ?? 'strip' });
  }
  for (const p of prefixes.keys()) if (!seen.has(p)) ignored.push(`customizations.berth.prefix.${p}: port ${p} is not in forwardPorts`);
  return ports;
}

function oneCommand(v: unknown, where: string, file: string, vars: (s: string) => string): { shell: string } | { argv: string[] } {
  if (typeof v === 'string') {
    if (v.includes('\0')) throw bad(`${file}: ${where} contains a NUL character`, 'remove it');
    return { shell: vars(v) };
  }
  if (Array.isArray(v) && v.length > 0 && v.every((w) => typeof w === 'string' && !w.includes('\0'))) return { argv: (v as string[]).map(vars) };
  throw bad(`${file}: ${where} must be a string, a non-empty array of strings, or an object of those`, 'e.g. "postCreateCommand": "npm install"');
}

function lifecycle(o: Record<string, unknown>, key: string, file: string, vars: (s: string) => string): LifecycleCommand | null {
  const v = o[key];
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'object' && !Array.isArray(v)) {
    const parallel: Record<string, { shell: string } | { argv: string[] }> = {};
    for (const [name, cmd] of Object.entries(v)) parallel[name] = oneCommand(cmd, `${key}.${name}`, file, vars);
    return Object.keys(parallel).length > 0 ? { parallel } : null;
  }
  return oneCommand(v, key, file, vars);
}

function userName(o: Record<string, unknown>, key: string, file: string): string | null {
  const v = optString(o, key, file);
  if (v === null) return null;
  // A user name or uid[:gid]: never something an engine's --user could read as an option.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$/.test(v)) {
    throw bad(`${file}: ${key} ${JSON.stringify(v)} is not a user name or uid`, 'give a user of the image, e.g. "vscode" or "1000"');
  }
  return v;
}

/** The argv that runs a (non-parallel) lifecycle command in the workspace. */
export function commandArgv(cmd: { shell: string } | { argv: string[] }): string[] {
  return 'shell' in cmd ? ['/bin/sh', '-c', cmd.shell] : cmd.argv;
}
