// The JSON schemas of /servers bodies (Nova's api/openstack/compute/schemas/servers.py) and the
// bodies they admit. Bodies that fail them are 400s with ajv's message, before any handler runs.
import { UUID_PATTERN } from '../../http/validation.js';

const nameSchema = { type: 'string', minLength: 1, maxLength: 255, pattern: '^\\S([\\s\\S]*\\S)?$' };
/** Nova's parameter_types.description (2.19): null, or up to 255 printable characters (no control or line/paragraph separators). */
const descriptionSchema = {
  type: ['string', 'null'],
  minLength: 0,
  maxLength: 255,
  pattern: '^[^\\p{C}\\p{Zl}\\p{Zp}]*$',
};
const countSchema = { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1 };
const hintsSchema = {
  type: 'object',
  properties: { group: { type: 'string', pattern: UUID_PATTERN } },
};

/** A body of one `server` object and only the `extra` keys beside it. */
const serverBody = (server: object, extra: object = {}) => ({
  type: 'object',
  required: ['server'],
  additionalProperties: false,
  properties: { server, ...extra },
});

export const createSchema = serverBody(
  {
    type: 'object',
    required: ['name', 'flavorRef'],
    additionalProperties: false,
    properties: {
      name: nameSchema,
      description: descriptionSchema,
      imageRef: { type: 'string', maxLength: 255 },
      flavorRef: { type: ['string', 'integer'], minLength: 1, maxLength: 255 },
      networks: {
        anyOf: [
          { type: 'string', enum: ['auto', 'none'] },
          {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              properties: {
                uuid: { type: 'string' },
                port: { type: ['string', 'null'] },
                fixed_ip: { type: 'string' },
                tag: { type: 'string' },
              },
            },
          },
        ],
      },
      min_count: countSchema,
      max_count: countSchema,
      return_reservation_id: { type: ['boolean', 'string'] },
      availability_zone: { type: 'string', minLength: 1, maxLength: 255 },
      key_name: { type: 'string', minLength: 1, maxLength: 255 },
      metadata: {
        type: 'object',
        propertyNames: { minLength: 1, maxLength: 255 },
        additionalProperties: { type: 'string', maxLength: 255 },
      },
      user_data: { type: 'string', maxLength: 65535 },
      accessIPv4: { type: 'string', format: 'ipv4' },
      accessIPv6: { type: 'string', format: 'ipv6' },
      config_drive: { type: ['boolean', 'string'] },
      adminPass: { type: 'string', maxLength: 255 },
      security_groups: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
      'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
    },
  },
  { 'os:scheduler_hints': hintsSchema, 'OS-SCH-HNT:scheduler_hints': hintsSchema },
);

export interface CreateBody {
  server: {
    name: string;
    description?: string | null;
    imageRef?: string;
    flavorRef: string | number;
    networks?: 'auto' | 'none' | { uuid?: string; port?: string | null }[];
    min_count?: number | string;
    max_count?: number | string;
    return_reservation_id?: boolean | string;
    availability_zone?: string;
    key_name?: string;
    metadata?: Record<string, string>;
    user_data?: string;
    accessIPv4?: string;
    accessIPv6?: string;
    config_drive?: boolean | string;
    adminPass?: string;
  };
  'os:scheduler_hints'?: { group?: string };
  'OS-SCH-HNT:scheduler_hints'?: { group?: string };
}

export const updateSchema = serverBody({
  type: 'object',
  additionalProperties: false,
  properties: {
    name: nameSchema,
    description: descriptionSchema,
    accessIPv4: { type: 'string', format: 'ipv4' },
    accessIPv6: { type: 'string', format: 'ipv6' },
    'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
  },
});

export interface UpdateBody {
  server: { name?: string; description?: string | null; accessIPv4?: string; accessIPv6?: string };
}
