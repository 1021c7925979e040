import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // End-to-end files each run several PostgreSQL servers; two at a time on two cores.
    maxWorkers: 2,
    // s3rver (the e2e S3 endpoint, in the test process) signs ListObjectsV2 continuation
    // tokens with single DES, which OpenSSL 3 only offers through its legacy provider:
    // without it every truncated listing (MaxKeys, or more than 1000 keys) is an HTTP 500.
    execArgv: ['--openssl-legacy-provider'],
  },
});
