/**
 * The activity tracker against a real SQLite store: noting is memory only, a flush writes what
 * changed in one go (without bumping updated_at), open exec sessions count as now, and the stored
 * activity is what is read after a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb, type Db } from '../store/db.js';
import { WorkspacesRepo, type PortPolicy } from '../store/workspaces-repo.js';
import { ActivityTracker, activityReason } from './activity.js';

const hosting = { proto: 'http' as const, host: 'berth.test', basePath: '' };
const policy: PortPolicy = { rangeStart: 9000, rangeEnd: 9100, count: 1, containerPortFor: (i) => 8000 + i };

describe('ActivityTracker', () => {
  let dir: string;
  let db: Db;
  let repo: WorkspacesRepo;
  let clock = Date.parse('2026-01-01T10:00:00Z');
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-activity-'));
    db = openDb(path.join(dir, 'berth.db'));
    repo = new WorkspacesRepo(db);
    for (const name of ['a', 'b']) repo.insertWithPorts({ id: `id-${name}`, name, image: 'busybox', command: null, env: {}, hosting, ownerId: null, visibility: 'private' }, policy);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names each kind of activity for people', () => {
    assert.equal(activityReason('http', 9000), 'HTTP on 9000');
    assert.equal(activityReason('ws', 9001), 'WebSocket on 9001');
    assert.equal(activityReason('exec', 0), 'exec session');
    assert.equal(activityReason('api', 0), 'API');
  });

  it('notes in memory only; a flush writes the latest of each workspace, once', () => {
    const tracker = new ActivityTracker(repo, () => clock);
    const before = repo.get('id-a')!;
    tracker.note('id-a', 'http', 9000);
    clock += 1000;
    tracker.note('id-a', 'ws', 9000);
    assert.equal(repo.get('id-a')!.lastActiveAt, null, 'noting wrote to the store');
    assert.deepEqual(tracker.last(before), { at: clock, reason: 'WebSocket on 9000', openSessions: 0 });
    assert.equal(tracker.flush(), 1);
    const stored = repo.get('id-a')!;
    assert.equal(stored.lastActiveAt, new Date(clock).toISOString());
    assert.equal(stored.lastActiveReason, 'WebSocket on 9000');
    assert.equal(stored.updatedAt, before.updatedAt, 'activity is no change of the workspace');
    assert.equal(tracker.flush(), 0, 'nothing new, nothing written');
    // A new tracker (a restarted daemon) reads the stored activity.
    assert.deepEqual(new ActivityTracker(repo, () => clock).last(stored), { at: clock, reason: 'WebSocket on 9000', openSessions: 0 });
  });

  it('an open exec session counts as activity now, until it is released (once)', () => {
    const tracker = new ActivityTracker(repo, () => clock);
    const b = repo.get('id-b')!;
    const release = tracker.hold('id-b');
    const second = tracker.hold('id-b');
    clock += 60_000;
    assert.deepEqual(tracker.last(b), { at: clock, reason: 'exec session', openSessions: 2 });
    release();
    release();
    assert.equal(tracker.last(b).openSessions, 1, 'a double release counted twice');
    second();
    const closedAt = clock;
    clock += 5_000;
    assert.deepEqual(tracker.last(b), { at: closedAt, reason: 'exec session', openSessions: 0 });
    tracker.flush();
    assert.equal(repo.get('id-b')!.lastActiveReason, 'exec session');
  });

  it('a flush that fails keeps the activity for the next one', () => {
    let fail = true;
    const written: string[] = [];
    const tracker = new ActivityTracker(
      { recordActivity: (e) => (fail ? (() => { throw new Error('disk full'); })() : written.push(...e.map((x) => x.reason))) },
      () => clock,
    );
    tracker.note('id-a', 'api');
    assert.throws(() => tracker.flush(), /disk full/);
    fail = false;
    tracker.flush();
    assert.deepEqual(written, ['API']);
  });
});
