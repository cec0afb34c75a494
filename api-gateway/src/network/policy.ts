// Who may see and change which Neutron record: the rules live in ../policy.ts's table; what a
// project may see of others' records is decided here, one function per resource, so a change of
// personas changes one place. As Neutron: what a caller cannot see is a 404, what it can see but
// not change a 403.
import type { NetRecord, NetworkRecord, PortRecord } from '@hypernova/cluster-state';
import { allowed, type Caller } from '../policy.js';
import { NeutronError } from './errors.js';

/** Whom a request acts for: a token's caller, or the cluster itself (devstack's defaults). */
export type Actor = Pick<Caller, 'projectId' | 'isAdmin' | 'roles'>;

/** The cluster acting on a project's behalf, as devstack's admin does. */
export const clusterActor = (projectId: string): Actor => ({ projectId, isAdmin: true, roles: new Set(['admin']) });

const disallowed = (action: string) =>
  new NeutronError(403, 'PolicyNotAuthorized', `rule:${action} is disallowed by policy`);

export function enforceNet(actor: Actor, action: string): void {
  if (!allowed(actor, action)) throw disallowed(action);
}

/** Whether the record is the actor's project's (admins own everything). */
export const owns = (actor: Actor, rec: Pick<NetRecord, 'project_id'>) =>
  actor.isAdmin || rec.project_id === actor.projectId;

/** Networks: one's own, shared ones, and external ones (Neutron's access_as_external). */
export const networkVisible = (actor: Actor, n: NetworkRecord) => owns(actor, n) || n.shared || n.external;

/** Subnets go with their network. */
export const subnetVisible = networkVisible;

/** Ports: one's own, and every port on a network one owns. */
export const portVisible = (actor: Actor, p: PortRecord, network: NetworkRecord | undefined) =>
  owns(actor, p) || (network !== undefined && network.project_id === actor.projectId);

/** Routers, floating IPs, security groups and their rules: one's own. */
export const ownedVisible = owns;

/** 403 unless the actor may change the (visible) record: its project's, or any for admins. */
export function enforceOwner(actor: Actor, rec: Pick<NetRecord, 'project_id'>, action: string): void {
  if (!owns(actor, rec)) throw disallowed(action);
}

/** The record an action changes: the policy allows the action, the actor sees the record (404) and owns it (403). */
export async function loadForChange<R extends Pick<NetRecord, 'project_id'>>(
  actor: Actor,
  action: string,
  load: () => Promise<R>,
): Promise<R> {
  enforceNet(actor, action);
  const rec = await load();
  enforceOwner(actor, rec, action);
  return rec;
}
