// Microversion negotiation: which header wins, latest, malformed and out-of-range versions.
import assert from 'node:assert/strict';
import { ApiError } from '../src/http/errors.js';
import { MAX_VERSION, MIN_VERSION, negotiate, versionHeaders } from '../src/compute/microversion.js';

describe('microversion negotiation', () => {
  it('defaults to the minimum without headers', () => {
    assert.equal(negotiate({}).toString(), MIN_VERSION.toString());
  });

  it('reads the compute entry of OpenStack-API-Version before the legacy header', () => {
    assert.equal(
      negotiate({
        'openstack-api-version': 'image 2.5, compute 2.1',
        'x-openstack-nova-api-version': '2.7',
      }).toString(),
      '2.1',
    );
    assert.equal(negotiate({ 'x-openstack-nova-api-version': ' 2.1 ' }).toString(), '2.1');
    assert.equal(negotiate({ 'openstack-api-version': 'compute latest' }).toString(), MAX_VERSION.toString());
  });

  it("answers 406 with Nova's message out of range and 400 when malformed", () => {
    assert.throws(
      () => negotiate({ 'x-openstack-nova-api-version': '2.92' }),
      (e: ApiError) =>
        e.status === 406 &&
        e.message ===
          `Version 2.92 is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
    );
    assert.throws(
      () => negotiate({ 'x-openstack-nova-api-version': '2.0' }),
      (e: ApiError) => e.status === 406,
    );
    for (const bad of ['2', 'two', '2.1.1', '02.1', '2.01', '-2.1']) {
      assert.throws(
        () => negotiate({ 'x-openstack-nova-api-version': bad }),
        (e: ApiError) => e.status === 400,
        bad,
      );
    }
  });

  it('echoes both headers and Vary', () => {
    assert.deepEqual(versionHeaders(MIN_VERSION), {
      'OpenStack-API-Version': 'compute 2.1',
      'X-OpenStack-Nova-API-Version': '2.1',
      Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
    });
  });
});
