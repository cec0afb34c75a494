// What the agent gives its VM processes for a live migration: the stream's place and key, and
// that it settles ownership itself, never a way to reach Redis.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type Redis } from '@hypernova/common';
import { compute } from '@hypernova/proto';
import { LiveMigrations } from '../../src/agent/live-migration.js';
import type { ComputeManager } from '../../src/agent/manager.js';

describe('agent: live migration arguments', () => {
  const REDIS_URL = 'redis://cluster-secret@10.0.0.1:6379';
  const key = randomBytes(32);

  function agent() {
    const seen: { args?: Record<string, unknown>; prepared?: unknown[]; logged: string } = { logged: '' };
    const vm = {
      serialize: (_task: string, fn: () => unknown) => fn(),
      migrateOut: async (args: Record<string, unknown>) => ((seen.args = args), { status: 'completed', data: {} }),
    };
    const manager = {
      get: () => vm,
      forget: async () => undefined,
      prepareIncoming: async (...a: unknown[]) => ((seen.prepared = a), compute.InstanceInfo.fromPartial({})),
    } as unknown as ComputeManager;
    const redis = { set: async () => 'OK' } as unknown as Redis;
    const logger = createLogger('test', {
      level: 'debug',
      destination: new Writable({ write: (chunk, _e, done) => ((seen.logged += String(chunk)), done()) }),
    });
    const endpoints = { natsUrl: 'nats://127.0.0.1:4222', encrypt: false, credentials: null };
    const lm = new LiveMigrations(
      manager,
      redis,
      'node-a',
      endpoints,
      { downtimeLimitMs: 300, maxBandwidth: 0, verify: false },
      logger,
    );
    return { lm, seen };
  }

  it('migrate: the key (hex) and the settings, ownership left to the agent, no Redis URL; the key never logged', async () => {
    const { lm, seen } = agent();
    const req = compute.LiveMigrateRequest.fromPartial({
      instanceUuid: 'i-1',
      migrationId: 'm-1',
      destHost: 'node-b',
      migrationKey: key,
    });
    assert.equal((await lm.migrate(req, () => undefined)).status, 'completed');
    const args = seen.args!;
    assert.equal(args.key, key.toString('hex'));
    assert.equal(args.encrypt, false);
    const text = JSON.stringify(args);
    for (const leak of ['redis', REDIS_URL, 'instance', 'source'])
      assert.ok(!text.includes(leak), `${leak} in ${text}`);
    assert.ok(!seen.logged.includes(key.toString('hex')) && !seen.logged.includes(key.toString('base64')));
  });

  it('refuses a migration without a 256-bit key', async () => {
    const { lm } = agent();
    const req = compute.LiveMigrateRequest.fromPartial({ instanceUuid: 'i-1', migrationId: 'm-1', destHost: 'node-b' });
    await assert.rejects(
      lm.migrate(req, () => undefined),
      /migration key must be 32 bytes, not 0/,
    );
  });
});
