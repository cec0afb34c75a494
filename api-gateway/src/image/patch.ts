// Glance's image PATCH: a JSON patch in either of Glance's media types,
// application/openstack-images-v2.1-json-patch ([{"op": "replace", "path": "/name", "value": ..}],
// RFC 6902 style) or the older v2.0 form Tempest sends ([{"add": "/name", "value": ..}]), applied
// attribute by attribute through the same rules as create.
import type { ImageRecord } from '@hypernova/cluster-state';
import { ApiError, badRequest, forbidden } from '../http/errors.js';
import { checkWritable, hasAttribute, removeAttribute, setAttribute, type Writer } from './attributes.js';

export const JSON_PATCH_V21 = 'application/openstack-images-v2.1-json-patch';
export const JSON_PATCH_V20 = 'application/openstack-images-v2.0-json-patch';

type Op = 'add' | 'replace' | 'remove';

export interface Change {
  op: Op;
  /** The top-level attribute the path names. */
  attribute: string;
  value?: unknown;
}

const OPS: readonly Op[] = ['add', 'replace', 'remove'];

/** The attribute a JSON pointer names; only single-segment paths exist for images (locations are not offered). */
function attributeOf(path: unknown): string {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw badRequest(`Invalid JSON pointer for this resource: '${String(path)}'`);
  const segments = path.slice(1).split('/');
  const root = segments[0].replace(/~1/g, '/').replace(/~0/g, '~');
  if (root === 'locations') throw forbidden("It's not allowed to update locations.");
  if (segments.length !== 1 || root === '') throw badRequest(`Invalid JSON pointer for this resource: '${path}'`);
  return root;
}

/** Parses a patch document; 400 for anything that is not a list of valid operations. */
export function parsePatch(body: unknown, mediaType: string): Change[] {
  if (!Array.isArray(body)) throw badRequest('Request body must be a JSON array of operation objects.');
  return body.map((raw: unknown) => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw badRequest('Operations must be JSON objects.');
    const o = raw as Record<string, unknown>;
    let op: unknown;
    let path: unknown;
    if (mediaType === JSON_PATCH_V20) {
      const named = OPS.filter((k) => k in o);
      if (named.length !== 1)
        throw badRequest(`Operation objects must contain exactly one member named "add", "remove", or "replace".`);
      op = named[0];
      path = o[named[0]];
    } else {
      op = o.op;
      path = o.path;
      if (typeof op !== 'string' || !OPS.includes(op as Op)) throw badRequest(`Invalid operation: '${String(op)}'.`);
    }
    const allowedKeys = mediaType === JSON_PATCH_V20 ? [op as string, 'value'] : ['op', 'path', 'value'];
    const extra = Object.keys(o).filter((k) => !allowedKeys.includes(k));
    if (extra.length > 0) throw badRequest(`Operation contains unexpected members: ${extra.join(', ')}.`);
    if (op !== 'remove' && !('value' in o))
      throw badRequest(`Operation "${String(op)}" requires a member named "value".`);
    if (op === 'remove' && 'value' in o)
      throw badRequest('Operation "remove" must not contain a member named "value".');
    return { op: op as Op, attribute: attributeOf(path), ...(op === 'remove' ? {} : { value: o.value }) };
  });
}

/** The record after the changes (pure: throws on the first refused change). */
export function applyPatch(rec: ImageRecord, changes: readonly Change[], w: Writer, mediaType: string): ImageRecord {
  let out = rec;
  for (const c of changes) {
    checkWritable(c.attribute);
    const exists = hasAttribute(out, c.attribute);
    switch (c.op) {
      case 'add':
        // v2.0's add of a custom property only creates; v2.1 follows RFC 6902 (add replaces).
        if (mediaType === JSON_PATCH_V20 && Object.hasOwn(out.properties, c.attribute)) {
          throw new ApiError(409, `Property ${c.attribute} already present.`);
        }
        out = setAttribute(out, c.attribute, c.value, w);
        break;
      case 'replace':
        if (!exists) throw new ApiError(409, `Property ${c.attribute} does not exist.`);
        out = setAttribute(out, c.attribute, c.value, w);
        break;
      case 'remove':
        if (!exists) throw new ApiError(409, `Property ${c.attribute} does not exist.`);
        out = removeAttribute(out, c.attribute);
        break;
    }
  }
  return out;
}
