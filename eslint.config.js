// Lint TypeScript sources with the type-aware recommended rules; generated and built files are skipped.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import prettier from 'eslint-config-prettier';

const SWALLOW =
  'An error dropped without a log line or a counter: use suppressed() from @hypernova/common, or say why.';
/** `.catch(() => {})`, `.catch(function () {})` and `.catch(() => undefined)`. */
export const SWALLOWING_CATCHES = [
  "CallExpression[callee.property.name='catch'] > :matches(ArrowFunctionExpression, FunctionExpression).arguments[body.type='BlockStatement'][body.body.length=0]",
  "CallExpression[callee.property.name='catch'] > ArrowFunctionExpression.arguments[body.type='Identifier'][body.name='undefined']",
].map((selector) => ({ selector, message: SWALLOW }));

/**
 * A package is used through the entries its package.json exports, never its files: for a file
 * `depth` folders below the repository root, no import names another package's dist/, src/ or
 * test/, and no relative path climbs out of the file's own package (`depth` times `../`).
 * Flat config has no glob for "n folders deep", so there is one block per depth.
 */
function packageSurfaces(depth) {
  const patterns = [
    {
      regex: '^(@hypernova/[^/]+|hypernova)/(dist|src|test)(/|$)',
      message: "Import the package's exported entries (its package.json exports), not its files.",
    },
  ];
  if (depth > 0)
    patterns.push({
      regex: `^(\\.\\./){${depth},}`,
      message: 'A relative import may not leave its package: import the other package by name.',
    });
  return {
    files: [`${'*/'.repeat(depth)}*.{ts,js}`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'proto/src/gen/**', 'guest/**', 'api-gateway/public/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Outside tests an error is never dropped unseen: log it, count it (common's `suppressed`),
    // or say why not (a comment in the catch block, an eslint-disable with a reason).
    ignores: ['test/**', '**/test/**', '**/*.test.ts'],
    rules: {
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-restricted-syntax': ['error', ...SWALLOWING_CATCHES],
    },
  },

  // Depths 0 to 7: sources sit at most five folders deep (hypervisor/src/devices/virtio/blk/blk.ts).
  ...Array.from({ length: 8 }, (_, depth) => packageSurfaces(depth)),
);
