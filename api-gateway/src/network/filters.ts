// Neutron's list queries: any attribute as a filter (repeated: any of the values; booleans as
// True/False; list attributes by membership; fixed_ips=ip_address=... by element), `fields` to
// pick attributes, and limit/marker pages with a "<collection>_links" next link.
import { badRequest } from '../http/errors.js';
import type { Query } from '../http/query.js';

const NOT_FILTERS = new Set(['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse']);

const values = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function matches(attr: unknown, wanted: string): boolean {
  if (Array.isArray(attr)) {
    const eq = /^([a-z_]+)=(.*)$/.exec(wanted);
    return attr.some((el) =>
      eq && el !== null && typeof el === 'object'
        ? String((el as Record<string, unknown>)[eq[1]]) === eq[2]
        : String(el) === wanted,
    );
  }
  if (typeof attr === 'boolean') return String(attr) === wanted.toLowerCase();
  if (attr === null) return wanted === '' || wanted === 'None';
  return String(attr) === wanted;
}

/** The items the query's filters let through (attributes an item lacks do not filter). */
export function filterItems<T extends object>(items: readonly T[], q: Query): T[] {
  const filters = Object.entries(q).filter(([k]) => !NOT_FILTERS.has(k));
  return items.filter((item) =>
    filters.every(([k, v]) => {
      if (!(k in item)) return true;
      const attr = (item as Record<string, unknown>)[k];
      return values(v).some((w) => matches(attr, w));
    }),
  );
}

/** Each item narrowed to the `fields` asked for (all of it when none are). */
export function pickFields<T extends object>(items: readonly T[], q: Query): Partial<T>[] {
  const fields = values(q.fields).flatMap((f) => f.split(','));
  if (fields.length === 0) return [...items];
  return items.map(
    (item) => Object.fromEntries(Object.entries(item).filter(([k]) => fields.includes(k))) as Partial<T>,
  );
}

/** A list body: filtered, one page of it, the fields asked for, and the next link when the page is full. */
export function listBody<T extends { id: string }>(
  collection: string,
  items: readonly T[],
  q: Query,
  selfUrl: string,
): Record<string, unknown> {
  let found = filterItems(items, q);
  const marker = values(q.marker).pop();
  if (marker !== undefined) found = found.slice(found.findIndex((i) => i.id === marker) + 1);
  const rawLimit = values(q.limit).pop();
  const body: Record<string, unknown> = {};
  if (rawLimit !== undefined) {
    if (!/^\d+$/.test(rawLimit)) throw badRequest(`Limit must be an integer 0 or greater and not '${rawLimit}'`);
    const limit = Number(rawLimit);
    // Neutron reads limit=0 as no limit.
    if (limit > 0 && found.length > limit) {
      found = found.slice(0, limit);
      body[`${collection}_links`] = [
        { rel: 'next', href: `${selfUrl}?limit=${limit}&marker=${found[found.length - 1].id}` },
      ];
    }
  }
  body[collection] = pickFields(found, q);
  return body;
}
