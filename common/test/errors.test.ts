import assert from 'node:assert/strict';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  ConflictError,
  HypernovaError,
  NoValidHostError,
  NotFoundError,
  fromGrpcError,
  toGrpcStatus,
} from '../src/errors.js';

/** What a client receives for the status a server sent. */
function roundTrip(err: unknown): HypernovaError {
  const s = toGrpcStatus(err);
  const wire = Object.assign(new Error(s.details), {
    code: s.code,
    details: s.details,
    metadata: s.metadata ?? new Metadata(),
  }) as ServiceError;
  return fromGrpcError(wire);
}

describe('common errors', () => {
  it('typed errors survive a trip through a gRPC status', () => {
    const nvh = roundTrip(new NoValidHostError());
    assert.ok(nvh instanceof NoValidHostError);
    assert.equal(nvh.message, 'No valid host was found. There are not enough hosts available.');
    assert.ok(roundTrip(new NotFoundError('gone')) instanceof NotFoundError);
    assert.ok(roundTrip(new ConflictError('busy')) instanceof ConflictError);
  });

  it('unknown errors become INTERNAL', () => {
    const e = roundTrip(new TypeError('boom'));
    assert.equal(e.code, 'INTERNAL');
    assert.equal(e.message, 'boom');
  });
});
