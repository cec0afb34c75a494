// Typed errors shared by the services, and their mapping to gRPC statuses both ways, so a
// NoValidHostError thrown in the scheduler arrives as a NoValidHostError in the API gateway.
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';

export type ErrorCode =
  'NO_VALID_HOST' | 'NOT_FOUND' | 'CONFLICT' | 'INVALID_ARGUMENT' | 'UNAVAILABLE' | 'CONFIG' | 'INTERNAL';

const grpcCodeOf: Record<ErrorCode, status> = {
  NO_VALID_HOST: status.RESOURCE_EXHAUSTED,
  NOT_FOUND: status.NOT_FOUND,
  CONFLICT: status.FAILED_PRECONDITION,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  UNAVAILABLE: status.UNAVAILABLE,
  CONFIG: status.INTERNAL,
  INTERNAL: status.INTERNAL,
};

/** The metadata key carrying our error code, since several codes share one gRPC status. */
const CODE_KEY = 'hn-error-code';

export class HypernovaError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Nova's "No valid host was found." fault: nothing fits the request. */
export class NoValidHostError extends HypernovaError {
  constructor(reason = 'There are not enough hosts available.') {
    super('NO_VALID_HOST', `No valid host was found. ${reason}`);
  }
}
export class NotFoundError extends HypernovaError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}
export class ConflictError extends HypernovaError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}
export class InvalidArgumentError extends HypernovaError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}
export class UnavailableError extends HypernovaError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}
export class ConfigError extends HypernovaError {
  constructor(message: string) {
    super('CONFIG', message);
  }
}

const classOf: Partial<Record<ErrorCode, new (message: string) => HypernovaError>> = {
  NOT_FOUND: NotFoundError,
  CONFLICT: ConflictError,
  INVALID_ARGUMENT: InvalidArgumentError,
  UNAVAILABLE: UnavailableError,
  CONFIG: ConfigError,
};

/** The status a gRPC handler answers with for `err` (unknown errors become INTERNAL). */
export function toGrpcStatus(err: unknown): Partial<StatusObject> {
  const e = err instanceof HypernovaError ? err : new HypernovaError('INTERNAL', errorMessage(err));
  const metadata = new Metadata();
  metadata.set(CODE_KEY, e.code);
  return { code: grpcCodeOf[e.code], details: e.message, metadata };
}

/** Rebuilds the typed error a server sent; transport failures become UnavailableError. */
export function fromGrpcError(err: ServiceError): HypernovaError {
  const code = (err.metadata?.get(CODE_KEY)[0] as ErrorCode | undefined) ?? codeOfStatus(err.code);
  const message = err.details || err.message;
  if (code === 'NO_VALID_HOST') {
    const e = new NoValidHostError();
    e.message = message;
    return e;
  }
  const cls = classOf[code];
  return cls ? new cls(message) : new HypernovaError(code, message);
}

function codeOfStatus(s: status): ErrorCode {
  switch (s) {
    case status.RESOURCE_EXHAUSTED:
      return 'NO_VALID_HOST';
    case status.NOT_FOUND:
      return 'NOT_FOUND';
    case status.FAILED_PRECONDITION:
    case status.ALREADY_EXISTS:
    case status.ABORTED:
      return 'CONFLICT';
    case status.INVALID_ARGUMENT:
      return 'INVALID_ARGUMENT';
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return 'UNAVAILABLE';
    default:
      return 'INTERNAL';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
