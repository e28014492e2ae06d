const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.yaml$': '<rootDir>/tests/helpers/text-transform.cjs',
    '^.+\\.(ts|mts|js|mjs)$': [
      '@swc/jest',
      { jsc: { target: 'es2023', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  // middy, jose, thumbhash and openapi-backend's ref parser ship ES modules only; jest's module loader
  // needs them as CommonJS.
  transformIgnorePatterns: [
    '^(?!.*/node_modules/@apidevtools/json-schema-ref-parser/).*/node_modules/(?!(@middy|jose|thumbhash)/)',
  ],
  // ...and their package exports have an `import` condition only, which jest's CommonJS
  // resolver does not take.
  moduleNameMapper: {
    '^@middy/(core|util)$': '<rootDir>/node_modules/@middy/$1/index.js',
  },
  moduleFileExtensions: ['ts', 'mts', 'js', 'mjs', 'json', 'yaml'],
};

export default {
  // End-to-end tests move tens of MiB through the local stack; none waits on a timer to pass.
  testTimeout: 60_000,
  reporters: ['default', '<rootDir>/tests/helpers/summary-reporter.cjs'],
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
      setupFiles: ['<rootDir>/tests/helpers/unit-env.ts'],
    },
    {
      ...common,
      // The deployable template, packaged offline (`osls package`) once for the project.
      displayName: 'package',
      testMatch: ['<rootDir>/tests/deploy/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'stack',
      testMatch: [
        '<rootDir>/tests/integration/**/*.test.ts',
        '<rootDir>/tests/e2e/**/*.test.ts',
        // Twake's web client in Debian's Chromium (playwright-core), against the same stack.
        '<rootDir>/tests/browser/**/*.test.ts',
      ],
      // One local stack (s3rver, dynalite, serverless offline) on free ports for the whole run.
      // Every exchange with the API is held to openapi.yaml.
      setupFiles: ['<rootDir>/tests/helpers/contract-setup.ts'],
      globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/tests/helpers/global-teardown.ts',
    },
  ],
};
