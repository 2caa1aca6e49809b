import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/matchers.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
