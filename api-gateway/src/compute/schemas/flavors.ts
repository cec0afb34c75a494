// The JSON schemas of /flavors bodies (Nova's api/openstack/compute/schemas/flavor_manage.py
// and flavors_extraspecs.py) and the bodies they admit.

const TRUE = ['True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', 'y', 't'];
const FALSE = ['False', 'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no', 'n', 'f'];
/** Nova's parameter_types.boolean: a JSON boolean or one of its spellings as a string. */
const booleanSchema = { anyOf: [{ type: 'boolean' }, { type: 'string', enum: [...TRUE, ...FALSE] }] };
export const toBool = (v: unknown) => v === true || (typeof v === 'string' && TRUE.includes(v));
const nonNegative = (min: number) => ({
  type: ['integer', 'string'],
  pattern: '^ *[0-9]+ *$',
  minimum: min,
  maximum: 2147483647,
});

export const createSchema = {
  type: 'object',
  required: ['flavor'],
  additionalProperties: false,
  properties: {
    flavor: {
      type: 'object',
      required: ['name', 'ram', 'vcpus', 'disk'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^\\S([\\s\\S]*\\S)?$' },
        id: { type: ['string', 'null'], minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' },
        ram: nonNegative(1),
        vcpus: nonNegative(1),
        disk: nonNegative(0),
        swap: nonNegative(0),
        'OS-FLV-EXT-DATA:ephemeral': nonNegative(0),
        rxtx_factor: { type: ['number', 'string'], pattern: '^[0-9]+(\\.[0-9]+)?$', exclusiveMinimum: 0 },
        'os-flavor-access:is_public': booleanSchema,
      },
    },
  },
} as const;

export type CreateBody = { flavor: Record<string, unknown> };

/** Nova's extra spec keys and values (numbers and booleans are stored as their strings). */
export const specsSchema = {
  type: 'object',
  propertyNames: { pattern: '^[a-zA-Z0-9-_:. ]{1,255}$' },
  additionalProperties: { type: ['string', 'number', 'boolean'], maxLength: 255 },
} as const;
export const extraSpecsSchema = {
  type: 'object',
  required: ['extra_specs'],
  additionalProperties: false,
  properties: { extra_specs: specsSchema },
} as const;
