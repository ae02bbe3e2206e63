import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickFreePorts } from './ports.js';

test('pickFreePorts takes the lowest free ports, skipping used ones', () => {
  assert.deepEqual(pickFreePorts(new Set([9000, 9002]), 9000, 9010, 3), [9001, 9003, 9004]);
});

test('pickFreePorts returns null when the range cannot hold the request', () => {
  assert.equal(pickFreePorts(new Set([9000, 9001]), 9000, 9002, 2), null);
  assert.deepEqual(pickFreePorts(new Set(), 9000, 9001, 2), [9000, 9001]);
});
