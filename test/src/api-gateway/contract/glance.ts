// Response schemas of the Glance v2 image API, written from the Glance API reference (image
// schema v2.16): versions, images (base attributes closed, custom properties as string keys),
// image lists with their paging links, and Glance's JSON error body.
import { arrayOf, bool, enumOf, int, nullable, obj, str, uri, uuid, type Schema } from './schema.js';

export const error = (status: number): Schema =>
  obj({ code: { type: 'string', pattern: `^${status} ` }, title: str, message: str });

export const versions = obj({
  versions: arrayOf(
    obj({
      id: { type: 'string', pattern: '^v2\\.\\d+$' },
      status: enumOf('CURRENT', 'SUPPORTED', 'DEPRECATED'),
      links: arrayOf(obj({ rel: str, href: uri })),
    }),
  ),
});

const glanceTime: Schema = { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$' };
const BASE: Record<string, Schema> = {
  id: uuid,
  name: nullable(str),
  status: enumOf(
    'queued',
    'saving',
    'active',
    'killed',
    'deleted',
    'pending_delete',
    'deactivated',
    'uploading',
    'importing',
  ),
  visibility: enumOf('public', 'private', 'shared', 'community'),
  protected: bool,
  os_hidden: bool,
  owner: nullable(str),
  disk_format: nullable(enumOf('ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop')),
  container_format: nullable(enumOf('ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed')),
  min_disk: int,
  min_ram: int,
  size: nullable(int),
  virtual_size: nullable(int),
  checksum: nullable({ type: 'string', pattern: '^[0-9a-f]{32}$' }),
  os_hash_algo: nullable(enumOf('sha512')),
  os_hash_value: nullable({ type: 'string', pattern: '^[0-9a-f]{128}$' }),
  created_at: glanceTime,
  updated_at: glanceTime,
  tags: arrayOf(str),
  self: { type: 'string', pattern: '^/v2/images/' },
  file: { type: 'string', pattern: '^/v2/images/.+/file$' },
  schema: enumOf('/v2/schemas/image'),
};

/** An image: every base attribute, plus custom properties, which are strings. */
export const image: Schema = {
  type: 'object',
  properties: BASE,
  required: Object.keys(BASE),
  additionalProperties: str,
};

export const imageList = obj(
  {
    images: arrayOf(image),
    first: enumOf('/v2/images'),
    schema: enumOf('/v2/schemas/images'),
    next: { type: 'string', pattern: '^/v2/images\\?' },
  },
  ['next'],
);
