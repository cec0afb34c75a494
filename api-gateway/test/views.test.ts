// Small pure pieces: validation messages, hypervisor versions, Keystone times, quota messages, pagination.
import assert from 'node:assert/strict';
import { ApiError } from '../src/http/errors.js';
import { paginate } from '../src/http/query.js';
import { validationMessage } from '../src/http/validation.js';
import { checkQuota } from '../src/compute/quota.js';
import { DEFAULT_FLAVORS } from '../src/compute/flavors.js';
import { versionNumber } from '../src/compute/views/hypervisors.js';
import { isoMicros, isoSeconds } from '../src/compute/views/links.js';
import { hostStatus } from '../src/compute/views/servers.js';
import type { HostState } from '@hypernova/cluster-state';
import { keystoneTime } from '../src/identity/views.js';

describe('gateway helpers', () => {
  it("words schema errors like Nova's jsonschema messages", () => {
    const body = { server: { name: 12 } };
    assert.equal(
      validationMessage(
        [
          {
            keyword: 'type',
            instancePath: '/server/name',
            schemaPath: '',
            params: { type: 'string' },
            message: 'must be string',
          },
        ],
        body,
      ),
      "Invalid input for field/attribute name. Value: 12. 12 is not of type 'string'",
    );
    assert.equal(
      validationMessage(
        [
          {
            keyword: 'required',
            instancePath: '/server',
            schemaPath: '',
            params: { missingProperty: 'flavorRef' },
            message: '',
          },
        ],
        body,
      ),
      'Invalid input for field/attribute server. Value: {"name":12}. \'flavorRef\' is a required property',
    );
  });

  it('formats times and versions as the clients expect', () => {
    assert.equal(versionNumber('1.2.3'), 1002003);
    assert.equal(versionNumber('0.1.0'), 1000);
    assert.equal(isoSeconds('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05Z');
    assert.equal(isoMicros('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05.678000');
    assert.equal(isoMicros(''), null);
    assert.equal(keystoneTime('2026-01-02T03:04:05.678Z'), '2026-01-02T03:04:05.678000Z');
  });

  it('words quota refusals as Nova does', () => {
    const tiny = DEFAULT_FLAVORS[0];
    const limits = { instances: 2, cores: 10, ram: 100, metadataItems: 128 };
    assert.doesNotThrow(() => checkQuota(limits, { instances: 0, cores: 0, ram: 0 }, tiny, 1));
    assert.throws(
      () => checkQuota(limits, { instances: 1, cores: 1, ram: 64 }, tiny, 1),
      (e: ApiError) =>
        e.status === 403 && e.message === 'Quota exceeded for ram: Requested 64, but already used 64 of 100 ram',
    );
  });

  it('paginates with limit and marker and flags full pages', () => {
    const items = ['a', 'b', 'c'];
    assert.deepEqual(
      paginate(items, (x) => x, { limit: '2' }, 1000),
      { page: ['a', 'b'], more: true },
    );
    assert.deepEqual(
      paginate(items, (x) => x, { limit: '2', marker: 'b' }, 1000),
      { page: ['c'], more: false },
    );
    assert.deepEqual(
      paginate(items, (x) => x, {}, 1000),
      { page: items, more: false },
    );
    assert.throws(
      () => paginate(items, (x) => x, { marker: 'zz' }, 1000),
      (e: ApiError) => e.status === 400,
    );
    assert.throws(
      () => paginate(items, (x) => x, { limit: '-1' }, 1000),
      (e: ApiError) => e.status === 400,
    );
  });

  it("derives host_status (2.16) in Nova's order: forced down, disabled, heartbeat", () => {
    const h = (over: Partial<HostState>): HostState =>
      ({ name: 'n1', enabled: true, up: true, forcedDown: false, ...over }) as HostState;
    const at = (over: Partial<HostState>) => hostStatus('n1', new Map([['n1', h(over)]]));
    assert.equal(at({}), 'UP');
    assert.equal(at({ up: false }), 'UNKNOWN');
    assert.equal(at({ enabled: false }), 'MAINTENANCE');
    assert.equal(at({ enabled: false, up: false }), 'MAINTENANCE');
    assert.equal(at({ forcedDown: true, up: false, enabled: false }), 'DOWN');
    assert.equal(hostStatus('', new Map()), '', 'no host');
    assert.equal(hostStatus('gone', new Map([['n1', h({})]])), '', 'a host no longer registered');
  });
});
