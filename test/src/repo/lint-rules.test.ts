// The repository's ESLint config refuses errors dropped unseen outside tests (eslint.config.js).
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** The rules that fire on `code` as if it were the file at `path` in the repository. */
async function rulesFor(code: string, path: string): Promise<(string | null)[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(code, { filePath: join(root, path) });
  return result.messages.map((m) => m.ruleId);
}

describe('lint: dropped errors', () => {
  const header = 'declare const p: Promise<void>;\n';

  it('refuses .catch with an empty or undefined-returning handler outside tests', async () => {
    for (const handler of ['() => {}', '() => undefined', 'function () {}', '(_e) => {}']) {
      assert.deepEqual(
        await rulesFor(`${header}void p.catch(${handler});\n`, 'api-gateway/src/snippet.ts'),
        ['no-restricted-syntax'],
        handler,
      );
    }
  });

  it('refuses an empty catch block, and accepts one that says why', async () => {
    const empty = `try {\n  JSON.parse('x');\n} catch {}\n`;
    assert.deepEqual(await rulesFor(empty, 'common/src/snippet.ts'), ['no-empty']);
    const said = `try {\n  JSON.parse('x');\n} catch {\n  // not JSON: kept as text\n}\n`;
    assert.deepEqual(await rulesFor(said, 'common/src/snippet.ts'), []);
  });

  it('accepts a handler that logs, and the same snippet in a test file', async () => {
    assert.deepEqual(
      await rulesFor(`${header}void p.catch((e: unknown) => console.warn(e));\n`, 'cli/src/snippet.ts'),
      [],
    );
    assert.deepEqual(await rulesFor(`${header}void p.catch(() => {});\n`, 'api-gateway/test/snippet.test.ts'), []);
  });
});
