// Who may see and change which Neutron record: the rules live in ../policy.ts's table; what a
// project may see of others' records is decided here, one function per resource, so a change of
// personas changes one place. As Neutron: what a caller cannot see is a 404, what it can see but
// not change a 403.
import type { NetRecord, NetworkRecord, PortRecord, RouterRecord, SubnetRecord } from '@hypernova/cluster-state';
import { allowed, type Caller } from '../policy.js';
import { NeutronError, badRequestFor, conflictOf } from './errors.js';

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

/** A port of another project's on the network: only on a shared network (admins: any). */
export function enforcePortOn(actor: Actor, network: NetworkRecord, action: string): void {
  if (!network.shared) enforceOwner(actor, network, action);
}

/**
 * Addresses and MACs on a network are its owner's to choose, on create and update alike
 * (Neutron's <action>:fixed_ips:ip_address and :mac_address): a port on a shared network takes
 * what the allocator gives it.
 */
export function enforceAddressChoice(actor: Actor, network: NetworkRecord, action: string, chooses: boolean): void {
  if (chooses) enforceOwner(actor, network, `${action}:fixed_ips:ip_address`);
}

/**
 * A router interface by subnet takes the subnet's gateway address, so the subnet must be the
 * caller's project's, shared ones not excepted (Neutron's 400, LP #1757482).
 */
export function enforceInterfaceSubnet(actor: Actor, subnet: SubnetRecord): void {
  if (!owns(actor, subnet))
    throw badRequestFor(
      'router',
      `Cannot add interface to router because subnet ${subnet.id} is not owned by project making the request`,
    );
}

/**
 * A port becomes a router's interface only in the router's project (admins: any): another
 * project's port posing as one would show in that router, be its to remove, and keep it from
 * being deleted (Neutron's DeviceIDNotOwnedByTenant, 409). A router that does not exist is no one's.
 */
export function enforceRouterDevice(actor: Actor, portProject: string, router: RouterRecord | undefined): void {
  if (router && !actor.isAdmin && router.project_id !== portProject)
    throw conflictOf(
      'DeviceIDNotOwnedByTenant',
      `The following device_id ${router.id} is not owned by your tenant or matches another tenants router.`,
    );
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
