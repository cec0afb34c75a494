// Neutron's errors: {"NeutronError": {"type": <exception class>, "message", "detail": ""}}. The
// type is what Neutron's clients and Tempest can tell errors apart by (IpAddressAlreadyAllocated,
// OverQuota, ...), so each one thrown here names Neutron's own.
import { STATUS_CODES } from 'node:http';
import { ApiError } from '../http/errors.js';

export class NeutronError extends ApiError {
  constructor(
    status: number,
    readonly type: string,
    message: string,
  ) {
    super(status, message);
    this.name = 'NeutronError';
  }
}

/** webob's exception names, which Neutron reports for errors without a class of their own. */
const HTTP_TYPES: Record<number, string> = {
  400: 'HTTPBadRequest',
  403: 'HTTPForbidden',
  404: 'HTTPNotFound',
  405: 'HTTPMethodNotAllowed',
  409: 'HTTPConflict',
  413: 'HTTPRequestEntityTooLarge',
  415: 'HTTPUnsupportedMediaType',
  503: 'HTTPServiceUnavailable',
};

export function neutronErrorBody(err: ApiError): object {
  const type =
    err instanceof NeutronError
      ? err.type
      : (HTTP_TYPES[err.status] ?? (err.status >= 500 ? 'HTTPInternalServerError' : (STATUS_CODES[err.status] ?? '')));
  return { NeutronError: { type, message: err.message, detail: '' } };
}

/** Resource names as Neutron's NotFound messages spell them. */
const NOT_FOUND: Record<string, [type: string, message: (id: string) => string]> = {
  network: ['NetworkNotFound', (id) => `Network ${id} could not be found.`],
  subnet: ['SubnetNotFound', (id) => `Subnet ${id} could not be found.`],
  port: ['PortNotFound', (id) => `Port ${id} could not be found.`],
  router: ['RouterNotFound', (id) => `Router ${id} could not be found.`],
  floatingip: ['FloatingIPNotFound', (id) => `Floating IP ${id} could not be found`],
  security_group: ['SecurityGroupNotFound', (id) => `Security group ${id} does not exist`],
  security_group_rule: ['SecurityGroupRuleNotFound', (id) => `Security group rule ${id} does not exist`],
};

export type NetResource = keyof typeof NOT_FOUND;

export function notFoundOf(resource: NetResource, id: string): NeutronError {
  const [type, message] = NOT_FOUND[resource];
  return new NeutronError(404, type, message(id));
}

/** Neutron's InvalidInput (400). */
export const invalidInput = (message: string) =>
  new NeutronError(400, 'InvalidInput', `Invalid input for operation: ${message}.`);

/** Neutron's BadRequest (400) for one resource: "Bad router request: ...". */
export const badRequestFor = (resource: string, message: string) =>
  new NeutronError(400, 'BadRequest', `Bad ${resource} request: ${message}.`);

export const conflictOf = (type: string, message: string) => new NeutronError(409, type, message);
