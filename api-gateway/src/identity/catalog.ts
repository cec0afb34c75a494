// The service catalog every token carries: identity, compute, image and network endpoints under
// one base URL, laid out as the real clients need (see shared/openstack-api-contract.md §2):
// compute at /compute/v2.1 without a project id, image and network (devstack's /networking)
// unversioned, every endpoint with both `region` and `region_id`, and public, internal and
// admin interfaces alike (Tempest defaults to admin).
import { createHash } from 'node:crypto';

export interface CatalogEndpoint {
  id: string;
  interface: 'public' | 'internal' | 'admin';
  region: string;
  region_id: string;
  url: string;
}

export interface CatalogService {
  id: string;
  type: string;
  name: string;
  endpoints: CatalogEndpoint[];
}

/** Where each API lives under the base URL. */
export const SERVICE_PATHS = {
  identity: '/identity',
  compute: '/compute/v2.1',
  image: '/image',
  network: '/networking',
} as const;

const SERVICES = [
  { type: 'identity', name: 'keystone', path: SERVICE_PATHS.identity },
  { type: 'compute', name: 'nova', path: SERVICE_PATHS.compute },
  { type: 'image', name: 'glance', path: SERVICE_PATHS.image },
  { type: 'network', name: 'neutron', path: SERVICE_PATHS.network },
] as const;

// Stable ids (the same on every gateway and across restarts) derived from what they name.
const stableId = (...parts: string[]) => createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);

export function buildCatalog(baseUrl: string, region: string): CatalogService[] {
  return SERVICES.map((s) => ({
    id: stableId(s.type),
    type: s.type,
    name: s.name,
    endpoints: (['public', 'internal', 'admin'] as const).map((iface) => ({
      id: stableId(s.type, iface, region),
      interface: iface,
      region,
      region_id: region,
      url: `${baseUrl}${s.path}`,
    })),
  }));
}
