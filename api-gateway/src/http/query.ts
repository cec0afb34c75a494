// Query-string helpers shared by the list endpoints: Nova's limit/marker pagination and flags.
import type { FastifyRequest } from 'fastify';
import { badRequest } from './errors.js';

export type Query = Record<string, string | string[] | undefined>;

export const queryOf = (request: FastifyRequest) => (request.query ?? {}) as Query;

/** The last value of a query parameter (Nova reads the last one when repeated). */
export function param(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

/** limit: a non-negative integer (400 otherwise), capped at maxLimit; absent means maxLimit. */
export function limitOf(q: Query, maxLimit: number): number {
  const raw = param(q, 'limit');
  if (raw === undefined) return maxLimit;
  if (!/^\d+$/.test(raw)) throw badRequest('limit param must be an integer');
  return Math.min(Number(raw), maxLimit);
}

/** Nova's truthy strings for flags such as all_tenants ("" counts as true). */
export function flag(q: Query, name: string): boolean {
  const v = param(q, name);
  if (v === undefined) return false;
  return !/^(0|false|f|no|n|off)$/i.test(v);
}

/**
 * One page of `items` after `marker` (400 "marker [x] not found" when unknown, as Nova), and
 * whether it is full: Nova then adds a "next" link, whether or not more items follow.
 */
export function paginate<T>(
  items: readonly T[],
  idOf: (t: T) => string,
  q: Query,
  maxLimit: number,
): { page: T[]; more: boolean } {
  const limit = limitOf(q, maxLimit);
  const marker = param(q, 'marker');
  let start = 0;
  if (marker !== undefined) {
    const i = items.findIndex((t) => idOf(t) === marker);
    if (i < 0) throw badRequest(`marker [${marker}] not found`);
    start = i + 1;
  }
  const page = items.slice(start, start + limit);
  return { page, more: limit > 0 && page.length === limit };
}
