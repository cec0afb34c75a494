// The check every contract test makes of a real response: its status, its body against the
// schema, and the schema's rejection of wrong shapes of that same body.
import assert from 'node:assert/strict';
import type { ApiResponse } from '../cluster.js';
import { assertConforms, assertRejectsWrongShapes, type Schema } from './schema.js';

/** Returns the body, typed loosely for the test to read on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are read field by field
export function expectShape(res: ApiResponse, status: number, schema: Schema, what: string): any {
  assert.equal(res.status, status, `${what}: ${res.status} ${res.text.slice(0, 500)}`);
  assertConforms(schema, res.body, what);
  assertRejectsWrongShapes(schema, res.body, what);
  return res.body;
}
