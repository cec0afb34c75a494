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
);
