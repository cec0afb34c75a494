// Nova server bodies: the list summary, the base body PUT /servers/{id} answers with (below
// 2.75), and the full body of show/detail with the OS-EXT-* extension attributes (host
// attributes for admins only; 2.3 adds more of them, 2.9 `locked`, 2.16 `host_status` for
// whom its policy allows, 2.19 `description`).
import { createHash } from 'node:crypto';
import type { HostState, InstanceRecord } from '@hypernova/cluster-state';
import type { Microversion } from '../microversion.js';
import { PROGRESS_STATUSES, statusOf } from '../state-machine.js';
import { bookmark, isoMicros, isoSeconds, resourceLinks } from './links.js';

export const serverSummary = (i: InstanceRecord, base: string) => ({
  id: i.uuid,
  name: i.name,
  links: resourceLinks(base, 'servers', i.uuid),
});

/** Nova's hostId: an opaque per-project digest of the host, so tenants can tell co-located servers apart. */
const hostId = (i: InstanceRecord) =>
  i.host
    ? createHash('sha224')
        .update(i.projectId + i.host)
        .digest('hex')
    : '';

export const instanceName = (i: Pick<InstanceRecord, 'id'>) => `instance-${i.id.toString(16).padStart(8, '0')}`;

export interface ServerViewOptions {
  /** May see host attributes and fault details (os-extended-server-attributes). */
  admin: boolean;
  mv: Microversion;
  /**
   * The registered hosts by name, given when the body carries `host_status` (2.16, when the
   * caller may see it: os_compute_api:servers:show:host_status); show and detail only.
   */
  hosts?: ReadonlyMap<string, HostState>;
}

export type HostStatus = 'UP' | 'DOWN' | 'MAINTENANCE' | 'UNKNOWN' | '';

/**
 * Nova's host_status of an instance's host: '' with no host (or one no longer registered), DOWN
 * when forced down, MAINTENANCE when disabled, else UP while its heartbeat lives and UNKNOWN
 * once it stopped (Nova's order of checks).
 */
export function hostStatus(host: string, hosts: ReadonlyMap<string, HostState>): HostStatus {
  const h = host ? hosts.get(host) : undefined;
  if (!h) return '';
  if (h.forcedDown) return 'DOWN';
  if (!h.enabled) return 'MAINTENANCE';
  return h.up ? 'UP' : 'UNKNOWN';
}

function fault(i: InstanceRecord, admin: boolean) {
  const status = statusOf(i);
  if (!i.fault || (status !== 'ERROR' && status !== 'DELETED')) return {};
  return {
    fault: {
      code: i.fault.code,
      message: i.fault.message,
      created: isoSeconds(i.fault.created),
      // Nova shows a 500's details (its traceback) to admins only.
      ...(admin || i.fault.code !== 500 ? { details: i.fault.details } : {}),
    },
  };
}

/** The keys every server body has (Nova's _show basics), plus `locked` from 2.9 and `description` from 2.19. */
export function serverBase(i: InstanceRecord, base: string, opts: ServerViewOptions) {
  const status = statusOf(i);
  return {
    id: i.uuid,
    name: i.name,
    status,
    tenant_id: i.projectId,
    user_id: i.userId,
    metadata: i.metadata,
    hostId: hostId(i),
    image: i.imageId ? { id: i.imageId, links: bookmark(base, 'images', i.imageId) } : '',
    flavor: { id: i.flavor.id, links: bookmark(base, 'flavors', i.flavor.id) },
    created: isoSeconds(i.createdAt),
    updated: isoSeconds(i.updatedAt),
    addresses: {},
    accessIPv4: i.accessIPv4,
    accessIPv6: i.accessIPv6,
    links: resourceLinks(base, 'servers', i.uuid),
    'OS-DCF:diskConfig': 'MANUAL',
    ...(PROGRESS_STATUSES.has(status) ? { progress: i.progress } : {}),
    ...fault(i, opts.admin),
    // Hypernova has no server locking: never locked.
    ...(opts.mv.atLeast(9) ? { locked: false } : {}),
    // null when never set; below 2.19 a create sets it to the name, as Nova does.
    ...(opts.mv.atLeast(19) ? { description: i.description ?? null } : {}),
  };
}

export function serverDetail(i: InstanceRecord, base: string, opts: ServerViewOptions): Record<string, unknown> {
  const { admin, mv } = opts;
  return {
    ...serverBase(i, base, opts),
    key_name: i.keyName || null,
    config_drive: i.configDrive,
    'OS-EXT-AZ:availability_zone': i.availabilityZone,
    'OS-EXT-STS:task_state': i.taskState,
    'OS-EXT-STS:vm_state': i.vmState,
    'OS-EXT-STS:power_state': i.powerState,
    'OS-SRV-USG:launched_at': isoMicros(i.launchedAt),
    'OS-SRV-USG:terminated_at': isoMicros(i.terminatedAt),
    'os-extended-volumes:volumes_attached': [],
    ...(admin
      ? {
          'OS-EXT-SRV-ATTR:host': i.host || null,
          'OS-EXT-SRV-ATTR:hypervisor_hostname': i.node || null,
          'OS-EXT-SRV-ATTR:instance_name': instanceName(i),
        }
      : {}),
    ...(admin && mv.atLeast(3)
      ? {
          'OS-EXT-SRV-ATTR:reservation_id': i.reservationId,
          'OS-EXT-SRV-ATTR:launch_index': i.launchIndex,
          'OS-EXT-SRV-ATTR:hostname': i.hostname,
          'OS-EXT-SRV-ATTR:kernel_id': '',
          'OS-EXT-SRV-ATTR:ramdisk_id': '',
          'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
          'OS-EXT-SRV-ATTR:user_data': i.userData || null,
        }
      : {}),
    ...(opts.hosts && mv.atLeast(16) ? { host_status: hostStatus(i.host, opts.hosts) } : {}),
  };
}
