// /v2.0/security-groups and /v2.0/security-group-rules.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { createGroupSchema, createRuleSchema, updateGroupSchema } from '../schemas/security-groups.js';
import {
  createGroup,
  createRule,
  deleteGroup,
  deleteRule,
  groupView,
  listGroups,
  listRules,
  ruleView,
  showGroup,
  showRule,
  updateGroup,
} from '../security-groups.js';
import { registerResource } from './resource.js';

export function registerSecurityGroupRoutes(app: FastifyInstance, gw: Gateway): void {
  registerResource(app, gw, {
    path: 'security-groups',
    collection: 'security_groups',
    member: 'security_group',
    list: listGroups,
    show: showGroup,
    create: createGroup,
    update: updateGroup,
    delete: deleteGroup,
    views: async (g, _actor, records) => {
      const rules = await g.network.securityGroupRules.list();
      return records.map((r) => groupView(r, rules));
    },
    createSchema: createGroupSchema,
    updateSchema: updateGroupSchema,
  });
  registerResource(app, gw, {
    path: 'security-group-rules',
    collection: 'security_group_rules',
    member: 'security_group_rule',
    list: listRules,
    show: showRule,
    create: createRule,
    delete: deleteRule,
    views: async (_gw, _actor, records) => records.map(ruleView),
    createSchema: createRuleSchema,
  });
}
