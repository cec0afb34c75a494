import { DEFAULT_QUOTAS } from '../quotas.js';

const limit = { type: 'integer', minimum: -1 } as const;

export const updateQuotaSchema = {
  type: 'object',
  required: ['quota'],
  additionalProperties: false,
  properties: {
    quota: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...Object.fromEntries(Object.keys(DEFAULT_QUOTAS).map((k) => [k, limit])),
        // OSC's --check-limit and --force.
        check_limit: { type: 'boolean' },
        force: { type: 'boolean' },
      },
    },
  },
} as const;
