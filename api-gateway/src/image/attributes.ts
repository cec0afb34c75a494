// Glance's image attributes: which ones a client may write, their JSON-schema rules (Glance's
// image schema), and how each maps onto the shared image record. Create and PATCH both go
// through setAttribute, so one table decides what is valid.
import type { ImageRecord } from '@hypernova/cluster-state';
import { badRequest, forbidden } from '../http/errors.js';
import { isUuid } from '../http/validation.js';

export const DISK_FORMATS = [
  'ami',
  'ari',
  'aki',
  'vhd',
  'vhdx',
  'vmdk',
  'raw',
  'qcow2',
  'vdi',
  'iso',
  'ploop',
] as const;
export const CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'] as const;
export const VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;

/** Attributes Glance computes itself: writing one is a 403. */
const READ_ONLY = new Set([
  'status',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'size',
  'virtual_size',
  'created_at',
  'updated_at',
  'self',
  'file',
  'schema',
  'direct_url',
  'locations',
  'stores',
]);

const schemaError = (detail: string) => badRequest(`Provided object does not match schema 'image': ${detail}`);

function str(name: string, v: unknown, max = 255): string {
  if (typeof v !== 'string') throw schemaError(`${JSON.stringify(v)} is not of type 'string' (${name})`);
  if (v.length > max) throw schemaError(`${JSON.stringify(v)} is too long (${name})`);
  return v;
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], nullable: boolean): T | '' {
  if (v === null && nullable) return '';
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw schemaError(
      `${JSON.stringify(v)} is not one of ${JSON.stringify(nullable ? [...allowed, null] : allowed)} (${name})`,
    );
  }
  return v as T;
}

function bool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw schemaError(`${JSON.stringify(v)} is not of type 'boolean' (${name})`);
  return v;
}

function nonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw schemaError(`${JSON.stringify(v)} is not a non-negative integer (${name})`);
  return v;
}

function tags(v: unknown): string[] {
  if (!Array.isArray(v)) throw schemaError(`${JSON.stringify(v)} is not of type 'array' (tags)`);
  const out = v.map((t) => str('tags', t));
  if (new Set(out).size !== out.length) throw schemaError(`${JSON.stringify(v)} has non-unique elements (tags)`);
  return out;
}

/** Who is writing: admins may set any owner; others only their own project. */
export interface Writer {
  projectId: string;
  isAdmin: boolean;
}

type Setter = (rec: ImageRecord, value: unknown, w: Writer) => ImageRecord;

/** Base attributes and how a value lands in the record; anything else is a custom property. */
const BASE: Record<string, Setter> = {
  name: (r, v) => ({ ...r, name: v === null ? '' : str('name', v) }),
  visibility: (r, v) => ({
    ...r,
    visibility: oneOf('visibility', v, VISIBILITIES, false) as ImageRecord['visibility'],
  }),
  protected: (r, v) => ({ ...r, protected: bool('protected', v) }),
  os_hidden: (r, v) => ({ ...r, hidden: bool('os_hidden', v) }),
  owner: (r, v, w) => {
    const owner = v === null ? '' : str('owner', v);
    if (!w.isAdmin && owner !== w.projectId) throw forbidden("You are not permitted to modify 'owner' on this image.");
    return { ...r, owner };
  },
  disk_format: (r, v) => {
    if (r.status !== 'queued') throw forbidden('Attribute disk_format can be only replaced for a queued image.');
    return { ...r, diskFormat: oneOf('disk_format', v, DISK_FORMATS, true) };
  },
  container_format: (r, v) => {
    if (r.status !== 'queued') throw forbidden('Attribute container_format can be only replaced for a queued image.');
    return { ...r, containerFormat: oneOf('container_format', v, CONTAINER_FORMATS, true) };
  },
  min_ram: (r, v) => ({ ...r, minRamMb: nonNegative('min_ram', v) }),
  min_disk: (r, v) => ({ ...r, minDiskGb: nonNegative('min_disk', v) }),
  tags: (r, v) => ({ ...r, tags: tags(v) }),
};

/** Base attributes a patch may remove (back to the default); others refuse with 403. */
const REMOVABLE: Record<string, (r: ImageRecord) => ImageRecord> = {
  tags: (r) => ({ ...r, tags: [] }),
};

/** 403 for attributes no client writes (computed, reserved); 400 for impossible names. */
export function checkWritable(name: string): void {
  if (READ_ONLY.has(name)) throw forbidden(`Attribute '${name}' is read-only.`);
  if (name.startsWith('os_glance')) throw forbidden(`Attribute '${name}' is reserved.`);
  if (name === 'id') throw forbidden("Attribute 'id' is read-only.");
  if (name.length === 0 || name.length > 255) throw schemaError(`property name ${JSON.stringify(name)} is invalid`);
}

/** Sets one attribute (a base one or a custom property) on a copy of the record. */
export function setAttribute(rec: ImageRecord, name: string, value: unknown, w: Writer): ImageRecord {
  checkWritable(name);
  const base = BASE[name];
  if (base) return base(rec, value, w);
  return { ...rec, properties: { ...rec.properties, [name]: str(name, value, 65535) } };
}

/** Whether the record has this attribute (custom properties must exist to be replaced or removed). */
export function hasAttribute(rec: ImageRecord, name: string): boolean {
  return name in BASE || Object.hasOwn(rec.properties, name);
}

export function removeAttribute(rec: ImageRecord, name: string): ImageRecord {
  checkWritable(name);
  const base = REMOVABLE[name];
  if (base) return base(rec);
  if (name in BASE) throw forbidden(`Attribute '${name}' is a base attribute and cannot be removed.`);
  const properties = { ...rec.properties };
  delete properties[name];
  return { ...rec, properties };
}

/** A new queued image from a create body (Glance's defaults: visibility shared, no formats). */
export function imageFromCreateBody(body: Record<string, unknown>, w: Writer, id: string, now: string): ImageRecord {
  const blank: ImageRecord = {
    id,
    name: '',
    status: 'queued',
    visibility: 'shared',
    owner: w.projectId,
    diskFormat: '',
    containerFormat: '',
    size: null,
    checksum: '',
    hashValue: '',
    minRamMb: 0,
    minDiskGb: 0,
    protected: false,
    properties: {},
    tags: [],
    hidden: false,
    location: '',
    createdAt: now,
    updatedAt: now,
  };
  let rec = blank;
  for (const [name, value] of Object.entries(body)) {
    if (name === 'id') continue;
    rec = setAttribute(rec, name, value, w);
  }
  return rec;
}

/** The id a create body asks for (a UUID), or undefined for a fresh one. */
export function requestedId(body: Record<string, unknown>): string | undefined {
  if (body.id === undefined) return undefined;
  if (typeof body.id !== 'string' || !isUuid(body.id) || body.id.length !== 36)
    throw schemaError(`${JSON.stringify(body.id)} is not a 'uuid' (id)`);
  return body.id.toLowerCase();
}
