import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../errors.js';
import { loadConfig } from './load.js';

describe('configured images', () => {
  it('are OCI references: an option-shaped one stops the start with E_CONFIG naming the variable', () => {
    for (const env of ['BERTH_DEFAULT_IMAGE', 'BERTH_INFRA_POSTGRES_IMAGE', 'BERTH_INFRA_REDIS_IMAGE', 'BERTH_PREVIEW_POSTGRES_IMAGE']) {
      assert.throws(
        () => loadConfig({ [env]: '--privileged' }, { dataDir: '/tmp/berth-config-test' }),
        (err: unknown) => isBerthError(err) && err.code === 'E_CONFIG' && err.message.includes(`${env}: "--privileged" must not start with "-"`),
        env,
      );
    }
    assert.equal(loadConfig({}, { dataDir: '/tmp/berth-config-test' }).defaultImage, 'docker.io/library/debian:bookworm-slim');
  });
});
