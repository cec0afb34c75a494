import assert from 'node:assert/strict';
import { redisKeys } from '../src/redis-keys.js';
import { subjects, token } from '../src/subjects.js';

describe('common names', () => {
  it('escapes subject tokens so a name cannot split or widen a subject', () => {
    assert.equal(token('node-a_1'), 'node-a_1');
    assert.equal(token('a.b*>c d'), 'a%2eb%2a%3ec%20d');
    assert.equal(subjects.instanceEvents('x.y'), 'hn.instance.x%2ey.events');
    assert.throws(() => token(''));
  });

  it('builds Redis keys in one namespace', () => {
    assert.equal(redisKeys.host('n1'), 'hn:host:n1');
    assert.equal(redisKeys.hostAlive('n1'), 'hn:host:n1:alive');
    assert.equal(redisKeys.allocation('i-1'), 'hn:allocation:i-1');
  });
});
