// Nova microversions: which one a request asks for (OpenStack-API-Version: compute 2.X, else the
// legacy X-OpenStack-Nova-API-Version, else 2.1) and the headers every versioned response
// echoes. Only versions whose every response shape is implemented may be advertised: 2.1 .. 2.25.
// What each version changes in what the gateway serves (n/a: only APIs it does not serve):
//   2.2  keypairs: `type`; create 201, delete 204
//   2.3  servers (admin): more OS-EXT-SRV-ATTR attributes, volumes_attached delete_on_termination
//   2.4-2.8  n/a (fixed IPs, remote consoles, flavor access)
//   2.9  servers: `locked` (show, detail, update)
//   2.10 keypairs: admins act on other users' (user_id in the query and the create body)
//   2.11 os-services: `forced_down`, PUT /os-services/force-down
//   2.12 n/a (os-virtual-interfaces net_id)
//   2.13 server groups: `project_id`, `user_id`
//   2.14 n/a (evacuate)
//   2.15 server groups: policies soft-affinity and soft-anti-affinity (the scheduler weighs them)
//   2.16 servers show/detail: `host_status` (UP, DOWN, MAINTENANCE, UNKNOWN or '') where the
//        os_compute_api:servers:show:host_status policy allows (admins)
//   2.17 server action trigger_crash_dump: 400 (the compute nodes cannot inject an NMI)
//   2.18 project_id optional in URLs: the routes never take one (the catalog has none)
//   2.19 servers: `description` (create and update accept it; show, detail and update return it)
//   2.20 n/a (volume attach/detach while shelved)
//   2.21 os-instance-actions: a deleted server's actions stay listable and showable
//   2.22 POST /servers/{id}/migrations/{mid}/action force_complete
//   2.23 GET /servers/{id}/migrations[/{mid}] (in-progress live migrations with memory_* and
//        disk_* progress); os-migrations: `migration_type`, `links` on in-progress live ones
//   2.24 DELETE /servers/{id}/migrations/{mid} aborts a live migration
//   2.25 os-migrateLive: block_migration may be "auto", disk_over_commit is gone
import { ApiError, badRequest } from '../http/errors.js';

export class Microversion {
  constructor(
    readonly major: number,
    readonly minor: number,
  ) {}

  toString(): string {
    return `${this.major}.${this.minor}`;
  }

  /** Whether this is at least 2.`minor`. */
  atLeast(minor: number): boolean {
    return this.major > 2 || (this.major === 2 && this.minor >= minor);
  }

  compare(o: Microversion): number {
    return this.major - o.major || this.minor - o.minor;
  }
}

export const MIN_VERSION = new Microversion(2, 1);
export const MAX_VERSION = new Microversion(2, 25);

/** The requested microversion; 400 for a malformed one, 406 (Nova's message) outside MIN..MAX. */
export function negotiate(headers: Record<string, string | string[] | undefined>): Microversion {
  const raw = requested(headers);
  if (raw === undefined) return MIN_VERSION;
  if (raw.toLowerCase() === 'latest') return MAX_VERSION;
  const m = /^([1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(raw);
  if (!m) {
    throw badRequest(`API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
  }
  const v = new Microversion(Number(m[1]), Number(m[2]));
  if (v.compare(MIN_VERSION) < 0 || v.compare(MAX_VERSION) > 0) {
    throw new ApiError(
      406,
      `Version ${v} is not supported by the API. Minimum is ${MIN_VERSION} and maximum is ${MAX_VERSION}.`,
    );
  }
  return v;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function requested(headers: Record<string, string | string[] | undefined>): string | undefined {
  // "compute 2.3, image 2.1": only the compute entry is ours; the new header wins over the legacy one.
  const modern = header(headers, 'openstack-api-version');
  if (modern) {
    for (const part of modern.split(',')) {
      const [service, version] = part.trim().split(/\s+/);
      if (service?.toLowerCase() === 'compute' && version) return version;
    }
  }
  return header(headers, 'x-openstack-nova-api-version')?.trim() || undefined;
}

/** The headers a versioned compute response carries. */
export function versionHeaders(v: Microversion): Record<string, string> {
  return {
    'OpenStack-API-Version': `compute ${v}`,
    'X-OpenStack-Nova-API-Version': `${v}`,
    Vary: 'OpenStack-API-Version, X-OpenStack-Nova-API-Version',
  };
}
