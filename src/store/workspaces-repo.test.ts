/**
 * The workspace store against a real SQLite file: the dev-environment columns of migration 10
 * (prefix mode and label per port, data volume, idle stop, limits, source) round-trip, and rows
 * made before it read as strip / no volume / no idle stop.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb, type Db } from './db.js';
import { WorkspacesRepo, type NewWorkspace, type PortPolicy } from './workspaces-repo.js';

const hosting = { proto: 'http' as const, host: 'berth.test', basePath: '' };
const policy: PortPolicy = { rangeStart: 9000, rangeEnd: 9100, count: 2, containerPortFor: (i) => 8000 + i };
const base = (name: string): NewWorkspace => ({ id: `id-${name}`, name, image: 'busybox', command: null, env: {}, hosting, ownerId: null, visibility: 'private' });

describe('WorkspacesRepo dev-environment columns', () => {
  let dir: string;
  let db: Db;
  let repo: WorkspacesRepo;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-wsrepo-'));
    db = openDb(path.join(dir, 'berth.db'));
    repo = new WorkspacesRepo(db);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('defaults: strip, no label, no volume, no idle stop, no limits, no source', () => {
    const ws = repo.insertWithPorts(base('plain'), policy);
    assert.deepEqual(ws.ports.map((p) => [p.containerPort, p.prefix, p.label]), [[8000, 'strip', null], [8001, 'strip', null]]);
    assert.equal(ws.dataVolume, null);
    assert.equal(ws.dataPath, null);
    assert.equal(ws.idleStopMs, null);
    assert.equal(ws.lastActiveAt, null);
    assert.equal(ws.cpus, null);
    assert.equal(ws.memoryMb, null);
    assert.equal(ws.source, null);
  });

  it('stores per-port prefix and label, volume, limits and source at insert', () => {
    const ws = repo.insertWithPorts(
      { ...base('dev'), dataVolume: 'berth-ws-dev-data', dataPath: '/workspace', idleStopMs: 7_200_000, cpus: 1.5, memoryMb: 512, source: { repo: 'https://example.com/r.git', ref: 'main', devcontainer: '.devcontainer/devcontainer.json', settings: { remoteUser: 'dev' } } },
      { ...policy, portOptions: (i, cp) => (i === 0 ? { prefix: 'keep', label: `jupyter ${cp}` } : {}) },
    );
    const read = repo.get(ws.id)!;
    assert.deepEqual(read.ports.map((p) => [p.containerPort, p.prefix, p.label]), [[8000, 'keep', 'jupyter 8000'], [8001, 'strip', null]]);
    assert.equal(read.dataVolume, 'berth-ws-dev-data');
    assert.equal(read.dataPath, '/workspace');
    assert.equal(read.idleStopMs, 7_200_000);
    assert.equal(read.cpus, 1.5);
    assert.equal(read.memoryMb, 512);
    assert.deepEqual(read.source, { repo: 'https://example.com/r.git', ref: 'main', devcontainer: '.devcontainer/devcontainer.json', settings: { remoteUser: 'dev' } });
    assert.deepEqual(repo.list().find((w) => w.id === ws.id)?.ports, read.ports, 'list() reads the same ports as get()');
  });

  it('setPortPrefix changes one port of one workspace, and says when there is no such port', () => {
    const ws = repo.get('id-plain')!;
    const other = repo.get('id-dev')!;
    assert.equal(repo.setPortPrefix(ws.id, ws.ports[1]!.hostPort, 'keep'), true);
    assert.deepEqual(repo.get(ws.id)!.ports.map((p) => p.prefix), ['strip', 'keep']);
    assert.equal(repo.setPortPrefix(ws.id, other.ports[0]!.hostPort, 'keep'), false, "another workspace's port is not this one's");
    assert.deepEqual(repo.get(other.id)!.ports.map((p) => p.prefix), ['keep', 'strip']);
  });

  it('update() writes JSON columns as JSON and clears with null', () => {
    const ws = repo.update('id-plain', { image: 'alpine', command: ['sh', '-c', 'sleep 1'], env: { A: '1' }, lastActiveAt: '2026-12-03T00:00:00.000Z', lastActiveReason: 'WebSocket on 9000', source: null });
    assert.equal(ws.image, 'alpine');
    assert.deepEqual(ws.command, ['sh', '-c', 'sleep 1']);
    assert.deepEqual(ws.env, { A: '1' });
    assert.equal(ws.lastActiveReason, 'WebSocket on 9000');
    assert.equal(repo.update('id-plain', { command: null }).command, null);
    assert.equal(repo.update('id-dev', { source: null }).source, null);
  });
});
