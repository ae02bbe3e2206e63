import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { IMAGE_REF_HINT, imageRefIssue } from '../../domain/image-ref.js';
import type { HostingInfo, Workspace } from '../../domain/workspace.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import type { AuthService, Principal } from '../../services/auth.js';
import { zodBadRequest } from '../error-handler.js';
import type { ApiEnv } from '../env.js';
import { addRecreateRoute } from './workspace-recreate.js';
import { portSpecsCreate, portSpecsUpdate, presentPort, toPortSpec } from './workspace-ports.js';
import { limitsFields, limitsOf } from './workspace-limits-schema.js';
import { apiActivity, idleStopField, type WorkspaceIdle } from './workspace-idle.js';

/** Who may reach a workspace's hosted apps: its owner (and admins), any signed-in Berth user, or anyone. */
const visibilityField = z.enum(['private', 'authenticated', 'public']);

/** An image reference (distribution grammar: never `-…`, no whitespace), refused with its hint. */
const imageRef = z.string().superRefine((s, ctx) => {
  const issue = imageRefIssue(s);
  if (issue) ctx.addIssue({ code: 'custom', message: issue, params: { hint: IMAGE_REF_HINT } });
});
/** A value that becomes one argv word or env value: NUL cannot be passed to a process at all. */
const argvWord = (max: number) =>
  z.string().max(max).superRefine((s, ctx) => {
    if (s.includes('\0')) ctx.addIssue({ code: 'custom', message: 'must not contain a NUL character', params: { hint: 'a process cannot receive a NUL byte in an argument or env value; remove it' } });
  });

/** An environment variable name: a C identifier, so never `-…` and never `K=V`. */
const envName = z.string().superRefine((s, ctx) => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(s)) {
    ctx.addIssue({ code: 'custom', message: 'env names are letters, digits and _', params: { hint: 'name variables like DATABASE_URL: letters, digits and "_", not starting with a digit' } });
  }
});

/** Body of `POST /api/workspaces`. */
export const workspaceCreateBody = z
  .object({
    name: z.string().max(200),
    image: imageRef.optional(),
    command: z.array(argvWord(8192)).max(256).optional(),
    env: z
      .record(envName, argvWord(65536))
      .optional(),
    visibility: visibilityField.optional(),
    restart: z.enum(['no', 'on-failure', 'always']).optional(),
    // Checked by the service (E_BAD_DATA_PATH, domain/data-path.ts); null: no data volume.
    dataPath: z.string().max(1024).nullable().optional(),
    // A volume kept by `ws rm --keep-data`, mounted again (services/volumes.ts checks it).
    dataVolume: z.string().max(256).optional(),
    ports: portSpecsCreate.optional(),
    ...limitsFields,
    idleStop: idleStopField.optional(),
  })
  .strict();

/** Body of `PATCH /api/workspaces/:id`: any of its fields, at least one. */
export const workspaceUpdateBody = z
  .object({ visibility: visibilityField.optional(), ports: portSpecsUpdate.optional(), idleStop: idleStopField.optional() })
  .strict()
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to change', params: { hint: 'send visibility, idleStop and/or ports: [{containerPort, prefix}]' } });

/** The API's view of a workspace: every port with its public URL. */
export function presentWorkspace(ws: Workspace, owner: string | null = null) {
  return {
    id: ws.id,
    name: ws.name,
    state: ws.state,
    visibility: ws.visibility,
    owner,
    restart: ws.restartPolicy,
    restartCount: ws.restartCount,
    reason: ws.reason,
    image: ws.image,
    command: ws.command,
    env: ws.env,
    ports: ws.ports.map((p) => presentPort(ws, p)),
    exitCode: ws.exitCode,
    dataVolume: ws.dataVolume,
    dataPath: ws.dataPath,
    cpus: ws.cpus,
    memoryMb: ws.memoryMb,
    createdAt: ws.createdAt,
    updatedAt: ws.updatedAt,
  };
}

export async function readJson<T>(req: Request, schema: z.ZodType<T>): Promise<T> {
  let raw: unknown;
  try {
    raw = await req.json();
  } catch {
    throw new BerthError('E_BAD_REQUEST', 'request body is not valid JSON', { hint: 'send Content-Type: application/json with a JSON object' });
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw zodBadRequest(parsed.error);
  return parsed.data;
}

/** Admins see every workspace; members only their own. Others' are "not found", not "forbidden". */
export function canSee(p: Principal, ws: Workspace): boolean {
  return p.role === 'admin' || ws.ownerId === p.userId;
}

/** Routes under /api/workspaces. */
export function workspaceRoutes(svc: WorkspaceService, auth: AuthService, hostingFor: (req: IncomingMessage) => HostingInfo, idle?: WorkspaceIdle) {
  const app = new Hono<ApiEnv>();
  if (idle) app.use('*', apiActivity(svc, idle));
  const ownerName = (ws: Workspace): string | null => (ws.ownerId ? (auth.findUserSafe(ws.ownerId)?.username ?? null) : null);
  const present = (ws: Workspace) => ({ ...presentWorkspace(ws, ownerName(ws)), ...(idle ? { idle: idle.view(ws) } : {}) });
  /** The workspace if the principal may see it; 404 otherwise. */
  const visible = (p: Principal, idOrName: string): Workspace => {
    const ws = svc.get(idOrName);
    if (!canSee(p, ws)) throw new BerthError('E_NOT_FOUND', `workspace "${idOrName}" not found`, { hint: 'list workspaces with `berth ws ls`' });
    return ws;
  };

  app.get('/', async (c) => {
    const p = c.get('principal');
    const list = svc.list().filter((ws) => canSee(p, ws));
    // `?usage=1` (berth ws top): every running workspace's usage from one engine call.
    if (!['1', 'true'].includes(c.req.query('usage') ?? '')) return c.json({ workspaces: list.map(present) });
    const usage = await svc.usage.usage(list);
    return c.json({ workspaces: list.map((ws) => ({ ...present(ws), usage: usage.get(ws.id) ?? null })) });
  });

  app.post('/', async (c) => {
    const body = await readJson(c.req.raw, workspaceCreateBody);
    const p = c.get('principal');
    const { idleStop, ...rest } = body;
    const ws = await svc.create(
      { ...rest, ports: body.ports?.map(toPortSpec), ...limitsOf(body), ...(idleStop !== undefined ? { idleStopMs: idleStop } : {}) },
      hostingFor(c.env.incoming),
      p.userId,
      p,
    );
    auth.audit(p, 'workspace.create', ws.name, c.get('clientIp'), { id: ws.id, image: ws.image, visibility: ws.visibility, ...(ws.cpus !== null ? { cpus: ws.cpus } : {}), ...(ws.memoryMb !== null ? { memoryMb: ws.memoryMb } : {}) });
    return c.json(present(ws), 201);
  });

  app.get('/:id', async (c) => {
    const ws = await svc.refresh(visible(c.get('principal'), c.req.param('id')).id);
    return c.json({ ...present(ws), usage: await svc.usage.usageOf(ws) });
  });

  app.patch('/:id', async (c) => {
    const ws = visible(c.get('principal'), c.req.param('id'));
    const body = await readJson(c.req.raw, workspaceUpdateBody);
    let updated = ws;
    if (body.ports) {
      updated = svc.setPorts(ws.id, body.ports.map(toPortSpec));
      auth.audit(c.get('principal'), 'workspace.ports', ws.name, c.get('clientIp'), { ports: body.ports });
    }
    if (body.visibility) {
      updated = svc.setVisibility(ws.id, body.visibility);
      auth.audit(c.get('principal'), 'workspace.visibility', ws.name, c.get('clientIp'), { visibility: body.visibility });
    }
    if (body.idleStop !== undefined) {
      updated = svc.setIdleStop(ws.id, body.idleStop);
      auth.audit(c.get('principal'), 'workspace.idle_stop', ws.name, c.get('clientIp'), { idleStopMs: body.idleStop });
    }
    return c.json(present(updated));
  });

  app.post('/:id/stop', async (c) => {
    const ws = visible(c.get('principal'), c.req.param('id'));
    const stopped = await svc.stop(ws.id);
    auth.audit(c.get('principal'), 'workspace.stop', ws.name, c.get('clientIp'));
    return c.json(present(stopped));
  });

  app.post('/:id/start', async (c) => {
    const ws = visible(c.get('principal'), c.req.param('id'));
    const started = await svc.start(ws.id, c.get('principal'));
    auth.audit(c.get('principal'), 'workspace.start', ws.name, c.get('clientIp'));
    return c.json(present(started));
  });

  app.delete('/:id', async (c) => {
    const ws = visible(c.get('principal'), c.req.param('id'));
    const keepData = ['1', 'true'].includes(c.req.query('keepData') ?? '');
    await svc.remove(ws.id, { keepData });
    auth.audit(c.get('principal'), 'workspace.delete', ws.name, c.get('clientIp'), { id: ws.id, ...(ws.dataVolume ? { dataVolume: ws.dataVolume, keepData } : {}) });
    return c.body(null, 204);
  });

  addRecreateRoute(app, { svc, auth, visible, present });

  // Issues a new /llm/ credential, revoking the old one at once; the token is in this answer only.
  app.post('/:id/llm-token', (c) => {
    const ws = visible(c.get('principal'), c.req.param('id'));
    const { token, baseUrl } = svc.rotateLlmToken(ws.id);
    auth.audit(c.get('principal'), 'workspace.llm_token', ws.name, c.get('clientIp'), { id: ws.id });
    return c.json({ token, baseUrl, env: { BERTH_LLM_BASE_URL: baseUrl, BERTH_LLM_TOKEN: token } });
  });

  app.get('/:id/logs', async (c) => {
    const ws = visible(c.get('principal'), c.req.param('id'));
    const follow = ['1', 'true'].includes(c.req.query('follow') ?? '');
    const tailRaw = c.req.query('tail');
    const tail = tailRaw === undefined ? undefined : Number(tailRaw);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
      throw new BerthError('E_BAD_REQUEST', 'tail must be a non-negative integer');
    }
    const stream = await svc.logs(ws.id, { follow, tail });
    // The client going away must end a follow, or the engine's `logs -f` would leak.
    c.env.outgoing.once('close', () => stream.destroy());
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
    });
  });

  return app;
}
