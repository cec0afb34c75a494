// Security groups and their rules. Every project has a group named `default`, made on first use
// (listing groups, creating a group or a port) with Neutron's rules: all egress, and ingress only
// from the group's own members. Its id and its rules' ids derive from the project, so gateways
// racing to make it write the same records. A rule exists once per group: its fingerprint is
// claimed in one HSETNX (409 SecurityGroupRuleExists otherwise).
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { redisKeys } from '@hypernova/common';
import { parseCidr, type SecurityGroupRecord, type SecurityGroupRuleRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { NeutronError, conflictOf, invalidInput, notFoundOf } from './errors.js';
import { checkQuota } from './quotas.js';
import { enforceNet, enforceOwner, loadForChange, ownedVisible, type Actor } from './policy.js';
import { given, newRecord, projectFor, standardView } from './records.js';

export interface SecurityGroupCreate {
  name?: string;
  description?: string;
  stateful?: boolean;
  project_id?: string;
  tenant_id?: string;
}

export interface RuleCreate {
  security_group_id: string;
  direction: 'ingress' | 'egress';
  ethertype?: 'IPv4' | 'IPv6';
  protocol?: string | number | null;
  port_range_min?: number | null;
  port_range_max?: number | null;
  remote_ip_prefix?: string | null;
  remote_group_id?: string | null;
  remote_address_group_id?: null;
  description?: string;
  project_id?: string;
  tenant_id?: string;
}

type RuleSpec = Omit<SecurityGroupRuleRecord, keyof ReturnType<typeof newRecord> | 'security_group_id'>;

const ANY: Omit<RuleSpec, 'direction' | 'ethertype'> = {
  description: '',
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  remote_group_id: null,
};

/** What Neutron gives every new group: all egress. */
const EGRESS: RuleSpec[] = (['IPv4', 'IPv6'] as const).map((ethertype) => ({ ...ANY, direction: 'egress', ethertype }));

/** A uuid-shaped id derived from `parts`: the same on every gateway. */
function derivedId(...parts: string[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, 'ipv6-icmp': 58 };

/** What makes two rules the same: protocol by number, an any-prefix the same as none. */
function fingerprint(groupId: string, r: RuleSpec): string {
  const protocol = r.protocol === null ? '' : String(PROTOCOL_NUMBERS[r.protocol] ?? r.protocol);
  const prefix = r.remote_ip_prefix === '0.0.0.0/0' || r.remote_ip_prefix === '::/0' ? null : r.remote_ip_prefix;
  return [
    groupId,
    r.direction,
    r.ethertype,
    protocol,
    r.port_range_min,
    r.port_range_max,
    prefix,
    r.remote_group_id,
  ].join('|');
}

/** Writes a rule unless its twin exists (then 409 naming the twin). `id` is given for the default group's rules. */
async function writeRule(
  gw: Gateway,
  group: Pick<SecurityGroupRecord, 'id' | 'project_id'>,
  spec: RuleSpec,
  id?: string,
): Promise<SecurityGroupRuleRecord> {
  const rec: SecurityGroupRuleRecord = { ...newRecord(group.project_id, id), security_group_id: group.id, ...spec };
  const key = fingerprint(group.id, spec);
  const fingerprints = redisKeys.netRuleFingerprints();
  if (!(await gw.redis.hsetnx(fingerprints, key, rec.id))) {
    const twin = (await gw.redis.hget(fingerprints, key)) ?? '';
    if (twin !== rec.id)
      throw conflictOf('SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${twin}.`);
  }
  await gw.network.securityGroupRules.create(rec);
  return rec;
}

async function deleteRuleRecord(gw: Gateway, r: SecurityGroupRuleRecord): Promise<void> {
  await gw.network.securityGroupRules.delete(r.id);
  await gw.redis.hdel(redisKeys.netRuleFingerprints(), fingerprint(r.security_group_id, r));
}

/** The project's default group, made now if it has none: its id. */
export async function ensureDefaultGroup(gw: Gateway, projectId: string): Promise<string> {
  const id = derivedId('default-security-group', projectId);
  if (await gw.network.securityGroups.get(id)) return id;
  const group = { id, project_id: projectId };
  const ingress = EGRESS.map((r): RuleSpec => ({ ...r, direction: 'ingress', remote_group_id: id }));
  // Rules first: a group that exists has its rules, even when a gateway died half way.
  for (const [i, spec] of [...EGRESS, ...ingress].entries()) await writeRule(gw, group, spec, derivedId(id, String(i)));
  await gw.network.securityGroups.create({
    ...newRecord(projectId, id),
    name: 'default',
    description: 'Default security group',
    stateful: true,
  });
  return id;
}

export async function securityGroupView(gw: Gateway, g: SecurityGroupRecord) {
  const rules = (await gw.network.securityGroupRules.list()).filter((r) => r.security_group_id === g.id);
  return groupView(g, rules);
}

export function groupView(g: SecurityGroupRecord, rules: readonly SecurityGroupRuleRecord[]) {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    stateful: g.stateful,
    shared: false,
    security_group_rules: rules.filter((r) => r.security_group_id === g.id).map(ruleView),
    ...standardView(g),
  };
}

export function ruleView(r: SecurityGroupRuleRecord) {
  return {
    id: r.id,
    security_group_id: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    remote_group_id: r.remote_group_id,
    remote_address_group_id: null,
    normalized_cidr: r.remote_ip_prefix,
    description: r.description,
    ...standardView(r),
  };
}

export async function loadGroup(gw: Gateway, actor: Actor, id: string): Promise<SecurityGroupRecord> {
  const g = await gw.network.securityGroups.get(id);
  if (!g || !ownedVisible(actor, g)) throw notFoundOf('security_group', id);
  return g;
}

export async function createGroup(gw: Gateway, actor: Actor, b: SecurityGroupCreate): Promise<SecurityGroupRecord> {
  enforceNet(actor, 'create_security_group');
  const project = projectFor(actor, b, 'create_security_group');
  if (b.name === 'default')
    throw conflictOf('SecurityGroupDefaultAlreadyExists', 'Default security group already exists.');
  await ensureDefaultGroup(gw, project);
  await checkQuota(gw, project, 'security_group');
  const rec: SecurityGroupRecord = {
    ...newRecord(project),
    name: b.name ?? '',
    description: b.description ?? '',
    stateful: b.stateful ?? true,
  };
  for (const spec of EGRESS) await writeRule(gw, rec, spec);
  await gw.network.securityGroups.create(rec);
  return rec;
}

export async function listGroups(gw: Gateway, actor: Actor): Promise<SecurityGroupRecord[]> {
  enforceNet(actor, 'get_security_group');
  if (actor.projectId) await ensureDefaultGroup(gw, actor.projectId);
  return (await gw.network.securityGroups.list()).filter((g) => ownedVisible(actor, g));
}

export async function showGroup(gw: Gateway, actor: Actor, id: string): Promise<SecurityGroupRecord> {
  enforceNet(actor, 'get_security_group');
  return loadGroup(gw, actor, id);
}

export async function updateGroup(
  gw: Gateway,
  actor: Actor,
  id: string,
  b: Pick<SecurityGroupCreate, 'name' | 'description'>,
): Promise<SecurityGroupRecord> {
  const g = await loadForChange(actor, 'update_security_group', () => loadGroup(gw, actor, id));
  if (g.name === 'default' && b.name !== undefined && b.name !== 'default')
    throw conflictOf('SecurityGroupCannotUpdateDefault', 'Updating default security group not allowed.');
  const updated = await gw.network.securityGroups.change(id, (cur) => ({
    ...cur,
    ...given({ name: b.name, description: b.description }),
  }));
  if (!updated) throw notFoundOf('security_group', id);
  return updated;
}

/** Deletes a group with its rules and the rules that name it as their remote group. */
export async function deleteGroup(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const g = await loadForChange(actor, 'delete_security_group', () => loadGroup(gw, actor, id));
  // Neutron lets only admins remove a default group (a project being cleaned up).
  if (g.name === 'default' && !actor.isAdmin)
    throw conflictOf('SecurityGroupCannotRemoveDefault', 'Insufficient rights for removing default security group.');
  if ((await gw.network.ports.list()).some((p) => p.security_groups.includes(id)))
    throw conflictOf('SecurityGroupInUse', `Security Group ${id} in use.`);
  for (const r of await gw.network.securityGroupRules.list())
    if (r.security_group_id === id || r.remote_group_id === id) await deleteRuleRecord(gw, r);
  await gw.network.securityGroups.delete(id);
}

/** A rule as Neutron validates it: ports only with a protocol, ranges by protocol, one kind of remote, prefixes of the ethertype. */
function ruleSpec(b: RuleCreate): RuleSpec {
  const ethertype = b.ethertype ?? 'IPv4';
  const protocol =
    b.protocol === undefined || b.protocol === null || b.protocol === 'any' ? null : String(b.protocol).toLowerCase();
  const min = b.port_range_min ?? null;
  const max = b.port_range_max ?? null;
  if (protocol !== null && !(protocol in PROTOCOL_NUMBERS) && !(/^\d+$/.test(protocol) && Number(protocol) <= 255))
    throw new NeutronError(
      400,
      'SecurityGroupRuleInvalidProtocol',
      `Security group rule protocol ${protocol} not supported. Only protocol values [None, ${Object.keys(PROTOCOL_NUMBERS).join(', ')}] and integer representations [0 to 255] are supported.`,
    );
  if ((min !== null || max !== null) && protocol === null)
    throw invalidInput('Must also specify protocol if port range is given');
  const number = protocol === null ? null : (PROTOCOL_NUMBERS[protocol] ?? Number(protocol));
  if (number === 6 || number === 17) {
    if ((min ?? 1) < 1 || (max ?? 65535) > 65535) throw invalidInput(`Invalid value for port ${min === 0 ? 0 : max}`);
    if (min !== null && max !== null && min > max)
      throw invalidInput('For TCP/UDP protocols, port_range_min must be <= port_range_max');
  } else if (number === 1 || number === 58) {
    if (min === null && max !== null) throw invalidInput('ICMP code (port-range-max) is given without an ICMP type');
    for (const v of [min, max])
      if (v !== null && (v < 0 || v > 255)) throw invalidInput(`Invalid value for ICMP field: ${v}`);
  }
  const prefix = b.remote_ip_prefix ?? null;
  if (prefix !== null && (b.remote_group_id ?? null) !== null)
    throw invalidInput('Only remote_ip_prefix or remote_group_id may be provided');
  if (prefix !== null) {
    const v4 = parseCidr(prefix, { loose: true }) !== undefined || parseCidr(`${prefix}/32`) !== undefined;
    const [addr, len] = prefix.split('/');
    const v6 = isIPv6(addr) && (len === undefined || (/^\d+$/.test(len) && Number(len) <= 128));
    if (!v4 && !v6) throw invalidInput(`'${prefix}' is not a valid IP prefix`);
    if ((ethertype === 'IPv4') !== v4)
      throw invalidInput(`Conflicting value ethertype ${ethertype} for CIDR ${prefix}`);
  }
  return {
    description: b.description ?? '',
    direction: b.direction,
    ethertype,
    protocol,
    port_range_min: min,
    port_range_max: max,
    remote_ip_prefix: prefix,
    remote_group_id: b.remote_group_id ?? null,
  };
}

export async function createRule(gw: Gateway, actor: Actor, b: RuleCreate): Promise<SecurityGroupRuleRecord> {
  enforceNet(actor, 'create_security_group_rule');
  const g = await loadGroup(gw, actor, b.security_group_id);
  enforceOwner(actor, g, 'create_security_group_rule');
  projectFor(actor, b, 'create_security_group_rule');
  const spec = ruleSpec(b);
  if (spec.remote_group_id !== null) await loadGroup(gw, actor, spec.remote_group_id);
  await checkQuota(gw, g.project_id, 'security_group_rule');
  return writeRule(gw, g, spec);
}

async function loadRule(gw: Gateway, actor: Actor, id: string): Promise<SecurityGroupRuleRecord> {
  const r = await gw.network.securityGroupRules.get(id);
  if (!r || !ownedVisible(actor, r)) throw notFoundOf('security_group_rule', id);
  return r;
}

export async function showRule(gw: Gateway, actor: Actor, id: string): Promise<SecurityGroupRuleRecord> {
  enforceNet(actor, 'get_security_group_rule');
  return loadRule(gw, actor, id);
}

export async function listRules(gw: Gateway, actor: Actor): Promise<SecurityGroupRuleRecord[]> {
  enforceNet(actor, 'get_security_group_rule');
  return (await gw.network.securityGroupRules.list()).filter((r) => ownedVisible(actor, r));
}

export async function deleteRule(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const r = await loadForChange(actor, 'delete_security_group_rule', () => loadRule(gw, actor, id));
  await deleteRuleRecord(gw, r);
}
