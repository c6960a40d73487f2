/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 60000,
  setupFilesAfterEnv: ['<rootDir>/test/support/remove-temp-dirs.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
};
