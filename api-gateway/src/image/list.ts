// Glance's image list query: filters (base attributes, "in:" lists, tags, size bounds, custom
// properties), sorting (sort_key/sort_dir or sort=key:dir,...; newest first by default) and
// limit/marker pages with a "next" link while a page comes back full.
import type { ImageRecord } from '@hypernova/cluster-state';
import { badRequest } from '../http/errors.js';
import { param, type Query } from '../http/query.js';
import { visibleImage, type Caller } from '../policy.js';

type Value = string | number | boolean | null;

/** Sortable and filterable base attributes and their value in a record. */
const ATTRIBUTES: Record<string, (i: ImageRecord) => Value> = {
  id: (i) => i.id,
  name: (i) => i.name || null,
  status: (i) => i.status,
  visibility: (i) => i.visibility,
  owner: (i) => i.owner || null,
  container_format: (i) => i.containerFormat || null,
  disk_format: (i) => i.diskFormat || null,
  size: (i) => i.size,
  min_disk: (i) => i.minDiskGb,
  min_ram: (i) => i.minRamMb,
  protected: (i) => i.protected,
  os_hidden: (i) => i.hidden ?? false,
  created_at: (i) => i.createdAt,
  updated_at: (i) => i.updatedAt,
};

/** Query keys that are not property filters. */
const CONTROL = new Set([
  'limit',
  'marker',
  'sort_key',
  'sort_dir',
  'sort',
  'tag',
  'size_min',
  'size_max',
  'member_status',
  'visibility',
]);

const all = (q: Query, name: string): string[] => {
  const v = q[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
};

function matchesValue(actual: Value, wanted: string): boolean {
  const candidates = wanted.startsWith('in:') ? wanted.slice(3).split(',') : [wanted];
  return candidates.some((c) => (actual === null ? c === '' || c === 'None' : String(actual) === c));
}

/** Which images the caller may list: Glance lists community images only when asked to. */
function visibilityMatches(i: ImageRecord, c: Caller, wanted: string | undefined): boolean {
  const mine = i.owner !== '' && i.owner === c.projectId;
  if (!visibleImage(i, c)) return false;
  if (wanted === undefined) return i.visibility !== 'community' || mine;
  return wanted === 'all' || i.visibility === wanted;
}

function sizeBound(q: Query, name: string): number | undefined {
  const raw = param(q, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`Invalid value for ${name}: ${raw}`);
  return Number(raw);
}

export function filterImages(images: readonly ImageRecord[], q: Query, c: Caller): ImageRecord[] {
  const visibility = param(q, 'visibility');
  if (visibility !== undefined && !['public', 'private', 'shared', 'community', 'all'].includes(visibility)) {
    throw badRequest(`Invalid visibility value: ${visibility}`);
  }
  const sizeMin = sizeBound(q, 'size_min');
  const sizeMax = sizeBound(q, 'size_max');
  const tags = all(q, 'tag');
  const filters = Object.keys(q).filter((k) => !CONTROL.has(k));
  return images.filter((i) => {
    if (!visibilityMatches(i, c, visibility)) return false;
    // Hidden images are listed only when asked for (os_hidden=true), as Glance does.
    if (param(q, 'os_hidden') === undefined && i.hidden) return false;
    if (sizeMin !== undefined && (i.size ?? -1) < sizeMin) return false;
    if (sizeMax !== undefined && (i.size === null || i.size > sizeMax)) return false;
    if (!tags.every((t) => (i.tags ?? []).includes(t))) return false;
    return filters.every((k) => {
      const wanted = param(q, k) as string;
      const base = ATTRIBUTES[k];
      if (base) return matchesValue(base(i), k === 'protected' || k === 'os_hidden' ? wanted.toLowerCase() : wanted);
      return Object.hasOwn(i.properties, k) && matchesValue(i.properties[k], wanted);
    });
  });
}

interface SortKey {
  key: string;
  dir: 'asc' | 'desc';
}

function sortKeys(q: Query): SortKey[] {
  const check = (key: string, dir: string): SortKey => {
    if (!(key in ATTRIBUTES))
      throw badRequest(`Unsupported sort_key. Acceptable values: ${Object.keys(ATTRIBUTES).join(', ')}`);
    if (dir !== 'asc' && dir !== 'desc') throw badRequest(`Invalid sort direction: ${dir}`);
    return { key, dir };
  };
  const sort = param(q, 'sort');
  if (sort !== undefined) {
    if (q.sort_key !== undefined || q.sort_dir !== undefined)
      throw badRequest('The "sort" parameter cannot be combined with sort_key or sort_dir.');
    return sort.split(',').map((part) => {
      const [key, dir = 'desc'] = part.trim().split(':');
      return check(key, dir);
    });
  }
  const keys = all(q, 'sort_key');
  const dirs = all(q, 'sort_dir');
  if (dirs.length > Math.max(keys.length, 1))
    throw badRequest('The number of sort_dir values exceeds the number of sort_key values.');
  if (keys.length === 0) return [check('created_at', dirs[0] ?? 'desc')];
  return keys.map((k, n) => check(k, dirs[n] ?? dirs[0] ?? 'desc'));
}

function compare(a: Value, b: Value): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}

/** Sorted by the requested keys, ties broken by id in the first key's direction (Glance's stable order). */
export function sortImages(images: readonly ImageRecord[], q: Query): ImageRecord[] {
  const keys = sortKeys(q);
  if (!keys.some((k) => k.key === 'id')) keys.push({ key: 'id', dir: keys[0].dir });
  return [...images].sort((a, b) => {
    for (const { key, dir } of keys) {
      const d = compare(ATTRIBUTES[key](a), ATTRIBUTES[key](b));
      if (d !== 0) return dir === 'asc' ? d : -d;
    }
    return 0;
  });
}

/** One page after `marker` and the "next" link when the page is full. */
export function pageOfImages(
  images: readonly ImageRecord[],
  q: Query,
  maxLimit: number,
): { page: ImageRecord[]; next?: string } {
  const rawLimit = param(q, 'limit');
  if (rawLimit !== undefined && !/^-?\d+$/.test(rawLimit)) throw badRequest('limit param must be an integer');
  if (rawLimit !== undefined && Number(rawLimit) < 0) throw badRequest('limit param must be positive');
  const limit = Math.min(rawLimit === undefined ? maxLimit : Number(rawLimit), maxLimit);
  const marker = param(q, 'marker');
  let start = 0;
  if (marker !== undefined) {
    const at = images.findIndex((i) => i.id === marker);
    if (at < 0) throw badRequest(`Marker ${marker} could not be found.`);
    start = at + 1;
  }
  const page = images.slice(start, start + limit);
  if (page.length === 0 || page.length < limit) return { page };
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (k === 'marker' || k === 'limit' || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  params.set('limit', String(limit));
  params.set('marker', page[page.length - 1].id);
  return { page, next: `/v2/images?${params}` };
}
