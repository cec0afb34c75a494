// IPv4 addresses and CIDRs as 32-bit integers: what subnet validation and IP allocation compute with.
import { isIPv4 } from 'node:net';

export interface Cidr {
  /** The network address. */
  base: number;
  prefix: number;
  /** The last address (broadcast). */
  last: number;
}

export const ipToInt = (ip: string): number => ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);

export const intToIp = (n: number): string => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');

/** Canonical dotted form (no leading zeros), or undefined when `s` is no IPv4 address. */
export function parseIpv4(s: string): number | undefined {
  return isIPv4(s) ? ipToInt(s) : undefined;
}

/** The CIDR `s` ("10.0.0.0/24") names, or undefined; host bits must be zero unless `loose`. */
export function parseCidr(s: string, opts: { loose?: boolean } = {}): Cidr | undefined {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIpv4(m[1]);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  const base = ip - (ip % size);
  if (base !== ip && !opts.loose) return undefined;
  return { base, prefix, last: base + size - 1 };
}

export const formatCidr = (c: Cidr) => `${intToIp(c.base)}/${c.prefix}`;

export const inCidr = (c: Cidr, ip: number) => ip >= c.base && ip <= c.last;

export const cidrsOverlap = (a: Cidr, b: Cidr) => a.base <= b.last && b.base <= a.last;

/** The addresses a host may hold: all but the network and broadcast ones (both usable in a /31 or /32). */
export function hostRange(c: Cidr): { first: number; last: number } {
  return c.prefix >= 31 ? { first: c.base, last: c.last } : { first: c.base + 1, last: c.last - 1 };
}
