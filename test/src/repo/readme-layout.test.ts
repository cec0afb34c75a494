// The README's layout table names exactly the workspace packages, so a newcomer's map of the
// repository cannot drift from it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

describe('README layout table', () => {
  it('lists every workspace package and deploy/, nothing else', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const layout = readme.slice(readme.indexOf('## Layout'));
    const table = layout.slice(0, layout.indexOf('\n## '));
    const listed = [...table.matchAll(/^\| `([^`]+)\/` \|/gm)].map((m) => m[1]).sort();
    const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] })
      .workspaces;
    assert.deepEqual(listed, [...workspaces, 'deploy'].sort());
  });
});
