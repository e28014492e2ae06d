import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      '.esbuild/',
      '.esbuild-*/',
      '.serverless/',
      '.local-data/',
      'coverage/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', performance: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Promises are awaited or handed on: one left floating fails silently, or ends a Lambda
    // before its work is done.
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: { parserOptions: { projectService: true } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // Domain code stays free of Lambda and SDK types (ARCHITECTURE.md §1), and of the wiring:
    // configuration, logging and the services are handed to it, never imported.
    files: ['lib/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@aws-sdk/*',
            'aws-lambda',
            '@middy/*',
            '../aws/*',
            '../http/*',
            '../services/*',
            '../thumbnails/*',
            '../config',
            '../logger',
          ],
        },
      ],
    },
  },
);
