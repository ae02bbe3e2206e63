// Only a running workload is ever dialled, on every kind of route: a workload that is creating,
// failed, stopped or being deleted answers 503 (`unavailable`), never a dial to a port that may
// be free or reused. Kills the mutant `state !== 'running'` → `state === 'stopped'`, which the
// table tests in match.test.ts (running and stopped only) let through.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoutableState, RoutableWorkload } from '../domain/route.js';
import { buildRouteTable } from './route-table.js';
import { matchRequest, type MatchResult } from './match.js';

const NOT_RUNNING: RoutableState[] = ['creating', 'stopped', 'failed', 'deleting'];

function workload(kind: RoutableWorkload['kind'], id: string, hostPort: number, state: RoutableState, appVia?: 'path' | 'host'): RoutableWorkload {
  return { kind, id, name: `n-${id}`, state, upstreamHost: '127.0.0.1', ports: [{ containerPort: 8080, hostPort }], ...(appVia ? { appVia } : {}) };
}

function outcome(m: MatchResult): string {
  if (m.type === 'route') return `route ${m.route.workloadId}:${m.route.upstream.port}`;
  if (m.type === 'unavailable') return `unavailable ${m.route.workloadId}`;
  return m.type;
}

describe('matchRequest: only running workloads are dialled', () => {
  for (const state of [...NOT_RUNNING, 'running' as const]) {
    const want = (id: string, port: number): string => (state === 'running' ? `route ${id}:${port}` : `unavailable ${id}`);
    const table = buildRouteTable(
      [workload('workspace', 'ws1', 9200, state), workload('app', 'pathapp', 9210, state, 'path'), workload('app', 'hostapp', 9220, state, 'host')],
      { appsDomain: 'apps.example.com' },
    );

    it(`${state}: path route /hosted/{id}/{port}/ → ${state === 'running' ? 'route' : 'unavailable'}`, () => {
      assert.equal(outcome(matchRequest(table, '/hosted/ws1/9200/x?y=1', undefined)), want('ws1', 9200));
    });
    it(`${state}: host route {port}--{id}.{appsDomain} → ${state === 'running' ? 'route' : 'unavailable'}`, () => {
      assert.equal(outcome(matchRequest(table, '/x', '9200--ws1.apps.example.com')), want('ws1', 9200));
    });
    it(`${state}: app under /embed/{app}/ → ${state === 'running' ? 'route' : 'unavailable'}`, () => {
      assert.equal(outcome(matchRequest(table, '/embed/pathapp/x', undefined)), want('pathapp', 9210));
    });
    it(`${state}: app on its own host {app}.{appsDomain} → ${state === 'running' ? 'route' : 'unavailable'}`, () => {
      assert.equal(outcome(matchRequest(table, '/', 'hostapp.apps.example.com')), want('hostapp', 9220));
    });
  }
});
