import type { HttpBindings } from '@hono/node-server';
import type { Principal } from '../services/auth.js';

/** Hono environment of every API route: node bindings + the authenticated principal. */
export interface ApiEnv {
  Bindings: HttpBindings;
  Variables: { principal: Principal; clientIp: string; reqId: string };
}
