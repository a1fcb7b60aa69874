// ESLint (typescript-eslint) for the library, its tests and the bench; Prettier owns the formatting.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.bench-tmp/', '.test-projects/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: {
        process: 'readonly',
        console: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        performance: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        NodeJS: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // The loaders of lazily needed packages (the linter, gulp, gulplog) require on purpose, at the moment of need.
      '@typescript-eslint/no-require-imports': 'off',
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // The engine and the layers below take typed settings: the environment and the command line are read by the
    // settings (and the gulp adapter), never there.
    files: ['tasks/engine/**/*.ts', 'tasks/db/**/*.ts', 'tasks/sources/**/*.ts', 'tasks/lint/**/*.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'argv', message: 'read flags in tasks/settings (parseFlags) and pass settings in' }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { __filename: 'readonly', exports: 'writable' } },
  },
);
