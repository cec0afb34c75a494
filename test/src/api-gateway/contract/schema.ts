// Building blocks for the response schemas of the contract tests, and the checker: ajv (draft
// 2020-12 vocabulary, every error reported), plus wrongShapes(), which derives from a valid body
// the mutations a schema must reject (a required key dropped, an unknown key added, a value of
// the wrong type), so every schema is shown to tell a wrong shape from a right one.
import assert from 'node:assert/strict';
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

export type Schema = Record<string, unknown>;

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, whose .default is the plugin.
const addFormats = addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
addFormats(ajv);

/** A closed object: every property required except those in `optional`. */
export function obj(properties: Record<string, Schema>, optional: readonly string[] = []): Schema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  };
}

export const str: Schema = { type: 'string' };
export const int: Schema = { type: 'integer' };
export const bool: Schema = { type: 'boolean' };
export const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
export const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
export const enumOf = (...values: unknown[]): Schema => ({ enum: values });
export const uuid: Schema = {
  type: 'string',
  pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$',
};
export const uri: Schema = { type: 'string', format: 'uri' };
/** Nova's "2012-08-20T21:11:09Z" (created, updated). */
export const isoSeconds: Schema = { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$' };
/** Nova's "2012-08-20T21:11:09.000000" (usage times, actions, keypairs, services). */
export const isoMicros: Schema = { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}$' };
/** Keystone's "2026-11-24T06:44:40.000000Z". */
export const isoMicrosZ: Schema = { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z$' };
/** Nova's links: [{rel, href}] (a type on image alternates). */
export const links: Schema = arrayOf(obj({ rel: str, href: uri, type: str }, ['type']));
/** A string of a map (metadata, extra specs, image properties). */
export const stringMap: Schema = { type: 'object', additionalProperties: str };

const compiled = new WeakMap<Schema, ValidateFunction>();

function validator(schema: Schema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema as AnySchema);
    compiled.set(schema, v);
  }
  return v;
}

/** The schema's complaints about `body` (empty when it conforms). */
export function problems(schema: Schema, body: unknown): string[] {
  const v = validator(schema);
  return v(body)
    ? []
    : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

export function assertConforms(schema: Schema, body: unknown, what: string): void {
  const p = problems(schema, body);
  assert.deepEqual(
    p,
    [],
    `${what} does not match its schema:\n${p.join('\n')}\n${JSON.stringify(body, null, 1).slice(0, 3000)}`,
  );
}

/** A value of another JSON type than `v`. */
function wrongType(v: unknown): unknown {
  if (typeof v === 'string') return 12345;
  if (typeof v === 'number') return 'not-a-number';
  if (typeof v === 'boolean') return 'true';
  if (v === null) return { unexpected: true };
  if (Array.isArray(v)) return 'not-an-array';
  return 'not-an-object';
}

/** The schema node that describes `node`: the matching branch of an anyOf/oneOf. */
function resolve(schema: Schema, node: unknown): Schema {
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (!branches) return schema;
  return resolve(branches.find((b) => problems(b, node).length === 0) ?? branches[0], node);
}

/** Whether the schema admits exactly one JSON type (so any other type is wrong). */
const singleType = (s: Schema) => typeof s.type === 'string' && s.anyOf === undefined && s.oneOf === undefined;

function replaceAt(
  root: unknown,
  path: (string | number)[],
  fn: (parent: Record<string | number, unknown>, key: string | number) => void,
): unknown {
  if (path.length === 0) {
    const holder = { root: structuredClone(root) };
    fn(holder as unknown as Record<string, unknown>, 'root');
    return holder.root;
  }
  const copy = structuredClone(root);
  let cur = copy as Record<string | number, unknown>;
  for (const seg of path.slice(0, -1)) cur = cur[seg] as Record<string | number, unknown>;
  fn(cur, path[path.length - 1]);
  return copy;
}

/**
 * Mutations of a valid `body` that `schema` must reject, found by walking body and schema
 * together: at the objects met depth first, a required key removed, an unknown key added where
 * the object is closed, and a value of a single-typed property (or map entry) given another type.
 * Returns [description, mutated body] pairs.
 */
export function wrongShapes(schema: Schema, body: unknown, limit = 9): [string, unknown][] {
  const out: [string, unknown][] = [];
  const at = (path: (string | number)[]) => '/' + path.join('/');
  const walk = (s0: Schema, node: unknown, path: (string | number)[]) => {
    if (out.length >= limit || node === null || typeof node !== 'object') return;
    const s = resolve(s0, node);
    if (Array.isArray(node)) {
      if (node.length > 0 && s.items) walk(s.items as Schema, node[0], [...path, 0]);
      return;
    }
    const props = (s.properties ?? {}) as Record<string, Schema>;
    const required = (s.required ?? []) as string[];
    const present = required.filter((k) => Object.hasOwn(node, k));
    if (present.length > 0) {
      const k = present[0];
      out.push([`${at([...path, k])} removed`, replaceAt(body, [...path, k], (p, key) => delete p[key])]);
      const typed = present.find((r) => singleType(props[r] ?? {}));
      if (typed)
        out.push([
          `${at([...path, typed])} of the wrong type`,
          replaceAt(body, [...path, typed], (p, key) => (p[key] = wrongType(p[key]))),
        ]);
    }
    const valueSchema = typeof s.additionalProperties === 'object' ? (s.additionalProperties as Schema) : undefined;
    const mapKey = Object.keys(node).find((k) => !(k in props));
    if (valueSchema && singleType(valueSchema) && mapKey !== undefined) {
      out.push([
        `${at([...path, mapKey])} of the wrong type`,
        replaceAt(body, [...path, mapKey], (p, key) => (p[key] = wrongType(p[key]))),
      ]);
    }
    if (s.additionalProperties === false) {
      out.push([
        `an unknown key at ${at(path)}`,
        replaceAt(body, path, (p, key) => (p[key] = { ...(p[key] as object), 'x-unexpected': 1 })),
      ]);
    }
    for (const [k, v] of Object.entries(node)) {
      const child = props[k] ?? valueSchema;
      if (child) walk(child, v, [...path, k]);
    }
  };
  walk(schema, body, []);
  return out;
}

/** The negative half of a contract: the schema rejects wrong shapes of a body it accepts. */
export function assertRejectsWrongShapes(schema: Schema, body: unknown, what: string): void {
  const shapes = wrongShapes(schema, body);
  assert.ok(shapes.length > 0, `${what}: no wrong shape derived`);
  for (const [how, wrong] of shapes)
    assert.notDeepEqual(problems(schema, wrong), [], `${what}: the schema accepts a body with ${how}`);
}
