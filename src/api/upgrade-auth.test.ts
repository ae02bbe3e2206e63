import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValue } from './upgrade-auth.js';

describe('cookieValue', () => {
  it('decodes %-encoded values and picks the first pair with the name', () => {
    assert.equal(cookieValue('a=1; berth_session=x%2By; berth_session=z', 'berth_session'), 'x+y');
    assert.equal(cookieValue('a=1', 'berth_session'), undefined);
    assert.equal(cookieValue(undefined, 'berth_session'), undefined);
  });

  it('cookie-bad-percent-encoding: returns malformed %-encoding as sent instead of throwing URIError', () => {
    for (const v of ['%zz', '%', '%E0%A4%A', '%ff', 'a%2', '%uD800']) {
      assert.equal(cookieValue(`berth_session=${v}`, 'berth_session'), v);
    }
  });
});
