import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { substituteVolumes } from './volumes.js';

describe('process runtime: volume target substitution', () => {
  const volumes = [
    { name: 'v-data', target: '/data' },
    { name: 'v-cache', target: '/data/cache' },
  ];
  const dirOf = (name: string): string => `/srv/berth/volumes/${name}`;
  const table: [string, string][] = [
    ['/data', '/srv/berth/volumes/v-data'],
    ['/data/db.sqlite', '/srv/berth/volumes/v-data/db.sqlite'],
    ['/data/cache', '/srv/berth/volumes/v-cache'],
    ['/data/cache/x', '/srv/berth/volumes/v-cache/x'],
    // Only a leading, whole-segment match is a volume path.
    ['/database', '/database'],
    ['sqlite:///data/db', 'sqlite:///data/db'],
    ['--dir=/data', '--dir=/data'],
    ['', ''],
  ];
  for (const [value, want] of table) it(`${JSON.stringify(value)} → ${JSON.stringify(want)}`, () => assert.equal(substituteVolumes(value, volumes, dirOf), want));
});
