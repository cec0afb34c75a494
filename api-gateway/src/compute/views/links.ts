// Nova's links: "self" under the versioned URL, "bookmark" under the unversioned one, and the
// "next" link of a full page.
import type { Query } from '../../http/query.js';

export const computeRoot = (base: string) => `${base}/compute`;

export function resourceLinks(base: string, collection: string, id: string) {
  return [
    { rel: 'self', href: `${computeRoot(base)}/v2.1/${collection}/${id}` },
    { rel: 'bookmark', href: `${computeRoot(base)}/${collection}/${id}` },
  ];
}

export function bookmark(base: string, collection: string, id: string) {
  return [{ rel: 'bookmark', href: `${computeRoot(base)}/${collection}/${id}` }];
}

/** {"<name>_links": [next]} when the page is full, else nothing. */
export function pageLinks(
  name: string,
  base: string,
  path: string,
  q: Query,
  lastId: string | undefined,
  full: boolean,
) {
  if (!full || lastId === undefined) return {};
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (k === 'marker' || v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  }
  params.set('marker', lastId);
  return { [`${name}_links`]: [{ rel: 'next', href: `${computeRoot(base)}/v2.1/${path}?${params}` }] };
}

/** Nova's ISO 8601 forms: "2012-08-20T21:11:09Z" (created/updated) and "2012-08-20T21:11:09.000000" (usage times). */
export const isoSeconds = (iso: string) => (iso ? iso.replace(/\.\d+Z$/, 'Z') : null);
export const isoMicros = (iso: string) =>
  iso ? iso.replace(/(\.(\d{3}))?Z$/, (_m, _f, ms: string | undefined) => `.${ms ?? '000'}000`) : null;
