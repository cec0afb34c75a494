// What every Neutron resource shares: a new record's standard attributes, their view (Neutron
// shows tenant_id beside project_id, and tags), and loading a record the caller may see (404
// otherwise, the same as for a record that does not exist).
import { randomUUID } from 'node:crypto';
import { netTimestamp, type NetRecord, type NetworkRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { notFoundOf } from './errors.js';
import { enforceOwner, networkVisible, type Actor } from './policy.js';

export const newRecord = (projectId: string, id: string = randomUUID()): NetRecord => {
  const now = netTimestamp();
  return { id, project_id: projectId, created_at: now, updated_at: now, revision_number: 0 };
};

export const standardView = (r: NetRecord) => ({
  tenant_id: r.project_id,
  project_id: r.project_id,
  tags: [] as string[],
  created_at: r.created_at,
  updated_at: r.updated_at,
  revision_number: r.revision_number,
});

/** The project a create is for: the body's project_id (or tenant_id), else the caller's; others' only for admins. */
export function projectFor(actor: Actor, body: { project_id?: string; tenant_id?: string }, action: string): string {
  const project = body.project_id ?? body.tenant_id ?? actor.projectId;
  enforceOwner(actor, { project_id: project }, action);
  return project;
}

/** A network the actor may see; Neutron's 404 otherwise. */
export async function loadNetwork(gw: Gateway, actor: Actor, id: string): Promise<NetworkRecord> {
  const n = await gw.network.networks.get(id);
  if (!n || !networkVisible(actor, n)) throw notFoundOf('network', id);
  return n;
}

/** The attributes a request gives (the undefined ones dropped), to lay over a record. */
export const given = <T extends object>(attrs: T): Partial<T> =>
  Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as Partial<T>;
