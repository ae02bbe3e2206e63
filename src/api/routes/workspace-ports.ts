/**
 * The `ports` field of workspace requests and the API's view of a port (its prefix mode, label,
 * URL and base path). The rules behind it are in services/workspace-ports.ts.
 */
import { z } from 'zod';
import { hostedBasePath, hostedUrl, type Workspace } from '../../domain/workspace.js';
import type { PortSpec } from '../../services/workspace-ports.js';

const portNumber = z.number().int().min(1).max(65535);
const NAME_ONE = { message: 'name the port by exactly one of containerPort, hostPort or index', params: { hint: 'e.g. {"containerPort": 8000, "prefix": "keep"} or {"index": 0, "prefix": "keep"}' } };

/** How each entry names its port: exactly one of the three. */
const portRef = {
  containerPort: portNumber.optional(),
  hostPort: portNumber.optional(),
  index: z.number().int().min(0).max(63).optional(),
};
const oneRef = (p: { containerPort?: number | undefined; hostPort?: number | undefined; index?: number | undefined }): boolean =>
  [p.containerPort, p.hostPort, p.index].filter((v) => v !== undefined).length === 1;

/** A prefix mode: `strip` (the app serves at `/`) or `keep` (the app was told its base path). */
export const prefixMode = z.enum(['strip', 'keep']);

/** A port's label (devcontainer `portsAttributes`): one short line. */
const label = z.string().min(1).max(64).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');

/** `ports` of `POST /api/workspaces`: per port, its prefix mode and label. */
export const portSpecsCreate = z.array(z.object({ ...portRef, prefix: prefixMode.optional(), label: label.optional() }).strict().refine(oneRef, NAME_ONE)).max(64);

/**
 * `ports` of `PATCH /api/workspaces/:id`. Only the prefix mode changes after create; a label is
 * parsed so the service can refuse it with a hint instead of a bare "unrecognized key".
 */
export const portSpecsUpdate = z
  .array(z.object({ ...portRef, prefix: prefixMode.optional(), label: label.optional() }).strict().refine(oneRef, NAME_ONE))
  .max(64)
  .refine((a) => a.length > 0, { message: 'name at least one port', params: { hint: 'e.g. {"ports": [{"containerPort": 8000, "prefix": "keep"}]}' } });

/** Narrows a parsed entry (exactly one ref field, as the refine checked) to the service's PortSpec. */
export function toPortSpec(p: { containerPort?: number | undefined; hostPort?: number | undefined; index?: number | undefined; prefix?: 'strip' | 'keep' | undefined; label?: string | undefined }): PortSpec {
  const settings = { ...(p.prefix ? { prefix: p.prefix } : {}), ...(p.label !== undefined ? { label: p.label } : {}) };
  if (p.containerPort !== undefined) return { containerPort: p.containerPort, ...settings };
  if (p.hostPort !== undefined) return { hostPort: p.hostPort, ...settings };
  return { index: p.index ?? 0, ...settings };
}

/** One port as the API shows it: mapping, prefix mode, label, public URL and base path. */
export function presentPort(ws: Pick<Workspace, 'id' | 'hosting'>, p: Workspace['ports'][number]) {
  return { ...p, url: hostedUrl(ws.hosting, ws.id, p.hostPort), basePath: hostedBasePath(ws.hosting, ws.id, p.hostPort) };
}
