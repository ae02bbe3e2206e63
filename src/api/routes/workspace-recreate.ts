/**
 * `POST /api/workspaces/:id/recreate {image?}`: replaces the workspace's workload, keeping its id,
 * ports and data volume (services/workspace-recreate.ts). With `Accept: application/x-ndjson` the
 * answer streams one `{"workspace","step","message?"}` line per step and ends with the workspace
 * (or an `{"error":…}` line); otherwise it is the workspace when done, or the error. Refusals that
 * need nothing touched (no data volume, bad image, busy) are plain HTTP errors either way.
 */
import { Readable } from 'node:stream';
import type { Hono } from 'hono';
import { z } from 'zod';
import { BerthError, isBerthError } from '../../errors.js';
import { IMAGE_REF_HINT, imageRefIssue } from '../../domain/image-ref.js';
import type { Workspace } from '../../domain/workspace.js';
import type { AuthService, Principal } from '../../services/auth.js';
import type { RecreateProgress } from '../../services/workspace-recreate.js';
import type { WorkspaceService } from '../../services/workspaces.js';
import type { ApiEnv } from '../env.js';
import { zodBadRequest } from '../error-handler.js';

/** Body of `POST /api/workspaces/:id/recreate` (may be empty: the recorded image). */
export const workspaceRecreateBody = z
  .object({
    image: z
      .string()
      .superRefine((s, ctx) => {
        const issue = imageRefIssue(s);
        if (issue) ctx.addIssue({ code: 'custom', message: issue, params: { hint: IMAGE_REF_HINT } });
      })
      .optional(),
  })
  .strict();

/** What the recreate route needs from the workspace routes. */
export interface RecreateRouteDeps {
  svc: WorkspaceService;
  auth: AuthService;
  visible: (p: Principal, idOrName: string) => Workspace;
  present: (ws: Workspace) => unknown;
}

/** The body, where an empty one means `{}` (the recorded image). */
async function readBody(req: Request): Promise<z.infer<typeof workspaceRecreateBody>> {
  const text = await req.text();
  let raw: unknown = {};
  try {
    if (text.trim()) raw = JSON.parse(text);
  } catch {
    throw new BerthError('E_BAD_REQUEST', 'request body is not valid JSON', { hint: 'send a JSON object like {"image":"…"}, or nothing for the recorded image' });
  }
  const parsed = workspaceRecreateBody.safeParse(raw);
  if (!parsed.success) throw zodBadRequest(parsed.error);
  return parsed.data;
}

/** Adds the recreate route to the workspace routes. */
export function addRecreateRoute(app: Hono<ApiEnv>, deps: RecreateRouteDeps): void {
  const { svc, auth, visible, present } = deps;
  app.post('/:id/recreate', async (c) => {
    const p = c.get('principal');
    const ws = visible(p, c.req.param('id'));
    const opts = { image: (await readBody(c.req.raw)).image };
    svc.checkRecreate(ws.id, opts, p);
    const ip = c.get('clientIp');
    const audit = (action: string, extra: Record<string, unknown>): void => auth.audit(p, action, ws.name, ip, { id: ws.id, ...extra });
    const streamed = (c.req.header('accept') ?? '').includes('application/x-ndjson');
    if (!streamed) {
      try {
        const done = await svc.recreate(ws.id, opts, p);
        audit('workspace.recreate', { image: done.image, previous: ws.image });
        return c.json(present(done));
      } catch (err) {
        audit('workspace.recreate.failed', { image: opts.image ?? ws.image, error: err instanceof Error ? err.message : String(err) });
        throw err;
      }
    }
    const lines = new Readable({ read() {} });
    const write = (v: unknown): void => void lines.push(JSON.stringify(v) + '\n');
    svc
      .recreate(ws.id, opts, p, (e: RecreateProgress) => write(e))
      .then((done) => {
        audit('workspace.recreate', { image: done.image, previous: ws.image });
        write(present(done));
      })
      .catch((err: unknown) => {
        audit('workspace.recreate.failed', { image: opts.image ?? ws.image, error: err instanceof Error ? err.message : String(err) });
        const e = isBerthError(err) ? err : new BerthError('E_INTERNAL', 'internal error; see the daemon log');
        write({ error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } });
      })
      .finally(() => lines.push(null));
    return new Response(Readable.toWeb(lines) as ReadableStream, {
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
    });
  });
}
