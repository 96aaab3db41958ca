// ESLint with typescript-eslint's recommended rules; formatting is prettier's (XO's
// choices: no semicolons, single quotes, 120 columns), so no stylistic rules here.

import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'prefer-const': 'error',
    },
  },
  {
    // The simulator's tests read xapi records through xen-api's untyped client.
    files: ['test/xapi-sim/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
)
