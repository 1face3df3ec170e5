import { defineConfig } from 'vitest/config'

/**
 * Two files at a time: most integration and e2e files wait on processes and sockets, so a second
 * one fills the idle core. Files that bound CPU shares or latencies run afterwards, one at a time,
 * as the kill -9 test of inference-log.test.ts, which bounds how late the journal may be (a
 * project of one worker runs in vitest's sequential group, after the others).
 */
const TIMED = [
  'test/integration/thread-priority.test.ts',
  'test/integration/shadow-canary.test.ts',
  'test/integration/routes-safety.test.ts',
  'test/integration/canary-gateways.test.ts',
  'test/integration/metrics.test.ts',
  'test/e2e/connections.test.ts',
  'test/e2e/inference-log.test.ts',
  'test/e2e/canary-replicas.test.ts',
  'test/e2e/workers.test.ts',
]
const TIMED_E2E = TIMED.filter((f) => f.startsWith('test/e2e/'))
const TIMED_INTEGRATION = TIMED.filter((f) => f.startsWith('test/integration/'))
const integration = { testTimeout: 30_000, hookTimeout: 30_000 } // real ONNX sessions load in the test
const e2e = { globalSetup: ['test/e2e/global-setup.ts'], testTimeout: 60_000, hookTimeout: 60_000 } // spawns the built CLI

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'training/**/*.test.ts', 'bench/**/*.test.ts', 'deploy/**/*.test.ts'],
          exclude: ['**/*.case.test.ts'],
          maxWorkers: 2,
        },
      },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], exclude: TIMED_INTEGRATION, maxWorkers: 2, ...integration } },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], exclude: TIMED_E2E, maxWorkers: 2, ...e2e } },
      { test: { name: 'timed-integration', include: TIMED_INTEGRATION, maxWorkers: 1, ...integration } },
      { test: { name: 'timed-e2e', include: TIMED_E2E, maxWorkers: 1, ...e2e } },
    ],
  },
})
