import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pingPayload, pullRequestPayload } from '../../../test/support/github-fake.js';
import { decideDelivery, deliveryOutcome, deliveryStatus, previewKey, type DeliveryDecision, type PreviewPolicy } from './events.js';

const policy: PreviewPolicy = { repos: ['octo-org/app'] };
const pr = pullRequestPayload;

interface Case {
  name: string;
  event: string;
  payload: unknown;
  policy?: PreviewPolicy;
  kind: DeliveryDecision['kind'];
  reason?: string;
  status: number;
  outcome: string;
}

const cases: Case[] = [
  { name: 'opened by a member', event: 'pull_request', payload: pr({ action: 'opened' }), kind: 'preview-up', reason: 'opened', status: 202, outcome: 'accepted' },
  { name: 'reopened', event: 'pull_request', payload: pr({ action: 'reopened' }), kind: 'preview-up', reason: 'reopened', status: 202, outcome: 'accepted' },
  { name: 'synchronize', event: 'pull_request', payload: pr({ action: 'synchronize' }), kind: 'preview-up', reason: 'synchronize', status: 202, outcome: 'accepted' },
  { name: 'closed', event: 'pull_request', payload: pr({ action: 'closed' }), kind: 'preview-down', reason: 'closed', status: 202, outcome: 'accepted' },
  { name: 'closed by merge', event: 'pull_request', payload: pr({ action: 'closed', merged: true }), kind: 'preview-down', status: 202, outcome: 'accepted' },
  {
    name: 'closed is torn down even for an author who may not create previews',
    event: 'pull_request',
    payload: pr({ action: 'closed', association: 'CONTRIBUTOR', headRepo: 'stranger/app' }),
    kind: 'preview-down',
    status: 202,
    outcome: 'accepted',
  },
  { name: 'owner', event: 'pull_request', payload: pr({ action: 'opened', association: 'OWNER' }), kind: 'preview-up', status: 202, outcome: 'accepted' },
  { name: 'collaborator', event: 'pull_request', payload: pr({ action: 'opened', association: 'COLLABORATOR' }), kind: 'preview-up', status: 202, outcome: 'accepted' },
  {
    name: 'contributor is ignored by default',
    event: 'pull_request',
    payload: pr({ action: 'opened', association: 'CONTRIBUTOR' }),
    kind: 'ignore',
    reason: 'author-not-allowed',
    status: 204,
    outcome: 'ignored:author-not-allowed',
  },
  {
    name: 'first-time contributor is ignored',
    event: 'pull_request',
    payload: pr({ action: 'synchronize', association: 'FIRST_TIME_CONTRIBUTOR' }),
    kind: 'ignore',
    reason: 'author-not-allowed',
    status: 204,
    outcome: 'ignored:author-not-allowed',
  },
  {
    name: 'contributor allowed when configured (case-insensitive)',
    event: 'pull_request',
    payload: pr({ action: 'opened', association: 'CONTRIBUTOR' }),
    policy: { repos: ['octo-org/app'], allowedAssociations: ['member', 'contributor'] },
    kind: 'preview-up',
    status: 202,
    outcome: 'accepted',
  },
  {
    name: 'fork by a member is ignored by default',
    event: 'pull_request',
    payload: pr({ action: 'opened', headRepo: 'someone/app' }),
    kind: 'ignore',
    reason: 'fork-not-allowed',
    status: 204,
    outcome: 'ignored:fork-not-allowed',
  },
  {
    name: 'deleted fork counts as a fork',
    event: 'pull_request',
    payload: pr({ action: 'synchronize', headRepo: null }),
    kind: 'ignore',
    reason: 'fork-not-allowed',
    status: 204,
    outcome: 'ignored:fork-not-allowed',
  },
  {
    name: 'fork allowed when configured',
    event: 'pull_request',
    payload: pr({ action: 'opened', headRepo: 'someone/app' }),
    policy: { repos: ['octo-org/app'], allowForks: true },
    kind: 'preview-up',
    status: 202,
    outcome: 'accepted',
  },
  {
    name: 'head repo with different case is not a fork',
    event: 'pull_request',
    payload: pr({ action: 'opened', repo: 'Octo-Org/App', headRepo: 'octo-org/app' }),
    kind: 'preview-up',
    status: 202,
    outcome: 'accepted',
  },
  {
    name: 'unsupported action',
    event: 'pull_request',
    payload: pr({ action: 'labeled' }),
    kind: 'ignore',
    reason: 'action-unsupported',
    status: 204,
    outcome: 'ignored:action-unsupported',
  },
  {
    name: 'disallowed repository is forbidden',
    event: 'pull_request',
    payload: pr({ action: 'opened', repo: 'evil/app' }),
    kind: 'forbidden',
    reason: 'repo-not-allowed',
    status: 403,
    outcome: 'rejected:repo-not-allowed',
  },
  {
    name: 'disallowed repository is forbidden for any event',
    event: 'push',
    payload: { ref: 'refs/heads/main', repository: { full_name: 'evil/app' } },
    kind: 'forbidden',
    status: 403,
    outcome: 'rejected:repo-not-allowed',
  },
  {
    name: 'empty repo list allows nothing',
    event: 'pull_request',
    payload: pr({ action: 'opened' }),
    policy: { repos: [] },
    kind: 'forbidden',
    status: 403,
    outcome: 'rejected:repo-not-allowed',
  },
  { name: 'wildcard allows any repository', event: 'pull_request', payload: pr({ action: 'opened', repo: 'any/thing' }), policy: { repos: ['*'] }, kind: 'preview-up', status: 202, outcome: 'accepted' },
  { name: 'repository match is case-insensitive', event: 'pull_request', payload: pr({ action: 'opened', repo: 'OCTO-ORG/App' }), kind: 'preview-up', status: 202, outcome: 'accepted' },
  { name: 'ping from an allowed repository', event: 'ping', payload: pingPayload(), kind: 'ping', status: 200, outcome: 'accepted' },
  { name: 'ping from an organization hook (no repository)', event: 'ping', payload: { zen: 'Speak like a human.', hook_id: 1 }, kind: 'ping', status: 200, outcome: 'accepted' },
  { name: 'ping from a disallowed repository', event: 'ping', payload: pingPayload('evil/app'), kind: 'forbidden', status: 403, outcome: 'rejected:repo-not-allowed' },
  {
    name: 'other events are ignored',
    event: 'issues',
    payload: { action: 'opened', repository: { full_name: 'octo-org/app' } },
    kind: 'ignore',
    reason: 'event-unsupported',
    status: 204,
    outcome: 'ignored:event-unsupported',
  },
  {
    name: 'malformed head sha',
    event: 'pull_request',
    payload: pr({ action: 'opened', sha: 'not-a-sha' }),
    kind: 'invalid',
    reason: 'invalid-payload',
    status: 400,
    outcome: 'rejected:invalid-payload',
  },
  { name: 'payload without repository', event: 'pull_request', payload: { action: 'opened', number: 1 }, kind: 'invalid', status: 400, outcome: 'rejected:invalid-payload' },
  { name: 'payload that is not an object', event: 'pull_request', payload: 'hello', kind: 'invalid', status: 400, outcome: 'rejected:invalid-payload' },
  { name: 'null payload', event: 'ping', payload: null, kind: 'invalid', status: 400, outcome: 'rejected:invalid-payload' },
];

for (const c of cases) {
  test(`decideDelivery: ${c.name}`, () => {
    const d = decideDelivery(c.event, c.payload, c.policy ?? policy);
    assert.equal(d.kind, c.kind, JSON.stringify(d));
    if (c.reason) assert.equal(d.reason, c.reason);
    assert.equal(deliveryStatus(d), c.status);
    assert.equal(deliveryOutcome(d), c.outcome);
  });
}

test('a preview decision carries the target the job needs', () => {
  const sha = 'c'.repeat(40);
  const d = decideDelivery('pull_request', pr({ action: 'synchronize', pr: 12, sha, ref: 'feat/x', private: true, cloneUrl: 'file:///tmp/repo.git' }), policy);
  assert.equal(d.kind, 'preview-up');
  if (d.kind !== 'preview-up') return;
  assert.deepEqual(d.target, {
    repo: 'octo-org/app',
    pr: 12,
    action: 'synchronize',
    sha,
    ref: 'feat/x',
    cloneUrl: 'file:///tmp/repo.git',
    private: true,
    author: 'octocat',
    fork: false,
    merged: false,
  });
  assert.equal(previewKey(d.target.repo, d.target.pr), 'octo-org/app#12');
});

test('ignore and invalid decisions explain themselves', () => {
  const d = decideDelivery('pull_request', pr({ action: 'opened', association: 'NONE', author: 'mallory' }), policy);
  assert.equal(d.kind, 'ignore');
  if (d.kind === 'ignore') assert.match(d.detail, /mallory is NONE/);
  const bad = decideDelivery('pull_request', pr({ action: 'opened', sha: 'xyz' }), policy);
  assert.equal(bad.kind, 'invalid');
  if (bad.kind === 'invalid') assert.match(bad.detail, /pull_request\.head\.sha/);
});

test('previewKey lowercases the repository so renamed-case deliveries share a key', () => {
  assert.equal(previewKey('Octo-Org/App', 3), previewKey('octo-org/app', 3));
});
