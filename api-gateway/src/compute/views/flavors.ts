// Nova v2.1 flavor bodies (list summary and detail).
import type { Flavor } from '../flavors.js';
import { resourceLinks } from './links.js';

export const flavorSummary = (f: Flavor, base: string) => ({
  id: f.id,
  name: f.name,
  links: resourceLinks(base, 'flavors', f.id),
});

export const flavorDetail = (f: Flavor, base: string) => ({
  id: f.id,
  name: f.name,
  ram: f.ramMb,
  disk: f.diskGb,
  vcpus: f.vcpus,
  // Below 2.75 Nova shows no swap as "".
  swap: f.swapMb || '',
  rxtx_factor: f.rxtxFactor,
  'OS-FLV-EXT-DATA:ephemeral': f.ephemeralGb,
  'OS-FLV-DISABLED:disabled': f.disabled,
  'os-flavor-access:is_public': f.isPublic,
  links: resourceLinks(base, 'flavors', f.id),
});
