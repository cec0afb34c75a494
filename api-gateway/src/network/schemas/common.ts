// Pieces every Neutron body schema uses. Neutron refuses unknown attributes and wrong types
// (400), so every object is closed.
export const str = { type: 'string', maxLength: 255 } as const;
export const longStr = { type: 'string', maxLength: 1024 } as const;
export const bool = { type: 'boolean' } as const;
export const nullableStr = { type: ['string', 'null'], maxLength: 255 } as const;
export const strList = { type: 'array', items: str } as const;

/** Attributes every create takes: the owning project (admins may name another). */
export const owned = { project_id: str, tenant_id: str, tags: strList } as const;

/** `{ <key>: {...} }`: a body wrapping one resource. */
export function wrapped(key: string, properties: object, required: readonly string[] = []) {
  return {
    type: 'object',
    required: [key],
    additionalProperties: false,
    properties: { [key]: { type: 'object', required, additionalProperties: false, properties } },
  } as const;
}

export const fixedIps = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    properties: { subnet_id: str, ip_address: str },
  },
} as const;
