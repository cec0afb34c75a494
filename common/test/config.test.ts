import assert from 'node:assert/strict';
import { bool, describeConfig, int, loadConfig, num, str } from '../src/config.js';
import { ConfigError } from '../src/errors.js';

const spec = {
  url: str('T_URL', 'redis://x', 'where'),
  port: int('T_PORT', 50051, 'port'),
  ratio: num('T_RATIO', 1.5, 'ratio'),
  on: bool('T_ON', false, 'switch'),
};

describe('common config', () => {
  it('uses defaults for unset or empty variables and parses set ones', () => {
    assert.deepEqual(loadConfig(spec, { T_PORT: '' }), { url: 'redis://x', port: 50051, ratio: 1.5, on: false });
    assert.deepEqual(loadConfig(spec, { T_URL: 'u', T_PORT: '7', T_RATIO: '2.5', T_ON: 'yes' }), {
      url: 'u',
      port: 7,
      ratio: 2.5,
      on: true,
    });
  });

  it('rejects malformed values naming the variable', () => {
    assert.throws(
      () => loadConfig(spec, { T_PORT: '7.5' }),
      (e: unknown) => e instanceof ConfigError && /T_PORT/.test(e.message),
    );
    assert.throws(() => loadConfig(spec, { T_RATIO: 'abc' }), ConfigError);
    assert.throws(() => loadConfig(spec, { T_ON: 'maybe' }), ConfigError);
  });

  it('describes every setting with its default', () => {
    const text = describeConfig(spec);
    assert.match(text, /^T_URL \(default: "redis:\/\/x"\) {2}where$/m);
    assert.match(text, /^T_PORT \(default: 50051\)/m);
  });
});
