import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // End-to-end files each run several PostgreSQL servers; two at a time on two cores.
    maxWorkers: 2,
  },
});
