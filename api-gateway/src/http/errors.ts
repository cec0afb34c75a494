// HTTP errors and their bodies. Nova answers {"<faultName>": {"code", "message"}} and Keystone
// (and keystonemiddleware, for a bad token on any service) {"error": {"code", "title",
// "message"}}; routes throw ApiError and the error handler picks the body by API.
import { STATUS_CODES } from 'node:http';
import { HypernovaError } from '@hypernova/common';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string) => new ApiError(400, message);
export const unauthorized = (message = 'The request you have made requires authentication.') =>
  new ApiError(401, message);
export const forbidden = (message: string) => new ApiError(403, message);
export const notFound = (message: string) => new ApiError(404, message);
export const conflict = (message: string) => new ApiError(409, message);

/** Nova's fault names by status (nova/api/openstack/wsgi.py); others are computeFault. */
const NOVA_FAULTS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export function novaFaultBody(status: number, message: string): object {
  return { [NOVA_FAULTS[status] ?? 'computeFault']: { code: status, message } };
}

export function keystoneErrorBody(status: number, message: string): object {
  return { error: { code: status, title: STATUS_CODES[status] ?? 'Error', message } };
}

/** Typed errors from Redis-side code or gRPC peers, as HTTP errors; undefined for unexpected ones. */
export function fromServiceError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  if (!(err instanceof HypernovaError)) return undefined;
  switch (err.code) {
    case 'NOT_FOUND':
      return notFound(err.message);
    case 'CONFLICT':
      return conflict(err.message);
    case 'INVALID_ARGUMENT':
      return badRequest(err.message);
    case 'UNAVAILABLE':
      return new ApiError(503, err.message);
    default:
      return undefined;
  }
}
