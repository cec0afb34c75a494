// JSON-schema validation errors (fastify's ajv) in the words of Nova's jsonschema messages:
// "Invalid input for field/attribute name. Value: 1. 1 is not of type 'string'".
import type { FastifySchemaValidationError } from 'fastify';

/** A UUID in any of the spellings Nova's uuid format accepts (with or without dashes, any case). */
export const UUID_PATTERN = '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$';
const UUID_RE = new RegExp(UUID_PATTERN);
export const isUuid = (s: string) => UUID_RE.test(s);

function valueAt(data: unknown, path: string): unknown {
  let cur = data;
  for (const seg of path.split('/').slice(1)) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[key] : undefined;
  }
  return cur;
}

const show = (v: unknown) => (v === undefined ? 'None' : JSON.stringify(v));

export function validationMessage(errors: FastifySchemaValidationError[], body: unknown): string {
  const e = errors[0];
  if (!e) return 'Invalid input';
  const path = e.instancePath;
  const value = valueAt(body, path);
  const field = path.split('/').filter(Boolean).pop() ?? 'body';
  const p = e.params as Record<string, unknown>;
  let detail: string;
  switch (e.keyword) {
    case 'required':
      return `Invalid input for field/attribute ${field}. Value: ${show(value)}. '${String(p.missingProperty)}' is a required property`;
    case 'additionalProperties':
      detail = `Additional properties are not allowed ('${String(p.additionalProperty)}' was unexpected)`;
      break;
    case 'type':
      detail = `${show(value)} is not of type '${String(p.type)}'`;
      break;
    case 'enum':
      detail = `${show(value)} is not one of ${JSON.stringify(p.allowedValues)}`;
      break;
    case 'minLength':
      detail = `${show(value)} is too short`;
      break;
    case 'maxLength':
      detail = `${show(value)} is too long`;
      break;
    case 'pattern':
    case 'format':
      detail = `${show(value)} does not match '${String(p.pattern ?? p.format)}'`;
      break;
    default:
      detail = e.message ?? 'is invalid';
  }
  return `Invalid input for field/attribute ${field}. Value: ${show(value)}. ${detail}`;
}
