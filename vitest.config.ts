import { defineConfig } from 'vitest/config';

// Integration tests share one kernel: one auditd may be registered at a time, and while it runs no
// audit record reaches /dev/kmsg. Their files therefore run one after another; unit tests run in parallel.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
