import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { Hono } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { z } from 'zod';
import { BerthError } from '../../errors.js';
import { hostedUrl, type HostingInfo, type Workspace } from '../../domain/workspace.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import { describeZodError } from '../error-handler.js';

/** Body of `POST /api/workspaces`. */
export const workspaceCreateBody = z
  .object({
    name: z.string().max(200),
    image: z.string().min(1).max(512).optional(),
    command: z.array(z.string().max(8192)).max(256).optional(),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'env names are letters, digits and _'), z.string().max(65536))
      .optional(),
  })
  .strict();

/** The API's view of a workspace: every port with its public URL. */
export function presentWorkspace(ws: Workspace) {
  return {
    id: ws.id,
    name: ws.name,
    state: ws.state,
    reason: ws.reason,
    image: ws.image,
    command: ws.command,
    env: ws.env,
    ports: ws.ports.map((p) => ({ ...p, url: hostedUrl(ws.hosting, ws.id, p.hostPort) })),
    exitCode: ws.exitCode,
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
  if (!parsed.success) throw new BerthError('E_BAD_REQUEST', describeZodError(parsed.error));
  return parsed.data;
}

/** Routes under /api/workspaces. */
export function workspaceRoutes(svc: WorkspaceService, hostingFor: (req: IncomingMessage) => HostingInfo) {
  const app = new Hono<{ Bindings: HttpBindings }>();

  app.get('/', (c) => c.json({ workspaces: svc.list().map(presentWorkspace) }));

  app.post('/', async (c) => {
    const body = await readJson(c.req.raw, workspaceCreateBody);
    const ws = await svc.create(body, hostingFor(c.env.incoming));
    return c.json(presentWorkspace(ws), 201);
  });

  app.get('/:id', async (c) => c.json(presentWorkspace(await svc.refresh(c.req.param('id')))));

  app.post('/:id/stop', async (c) => c.json(presentWorkspace(await svc.stop(c.req.param('id')))));

  app.post('/:id/start', async (c) => c.json(presentWorkspace(await svc.start(c.req.param('id')))));

  app.delete('/:id', async (c) => {
    await svc.remove(c.req.param('id'));
    return c.body(null, 204);
  });

  app.get('/:id/logs', async (c) => {
    const follow = ['1', 'true'].includes(c.req.query('follow') ?? '');
    const tailRaw = c.req.query('tail');
    const tail = tailRaw === undefined ? undefined : Number(tailRaw);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
      throw new BerthError('E_BAD_REQUEST', 'tail must be a non-negative integer');
    }
    const stream = await svc.logs(c.req.param('id'), { follow, tail });
    // The client going away must end a follow, or the engine's `logs -f` would leak.
    c.env.outgoing.once('close', () => stream.destroy());
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
    });
  });

  return app;
}
